"""The REST API for operators (FastAPI): the same service layer and tokens as gRPC."""
