"""Reading cost: the explorer's formula preview and cost queries grouped by virtual dimensions."""
