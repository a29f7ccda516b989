"""Development and test harness: the demo, the emulator/control-plane starters and sample data. Not shipped."""
