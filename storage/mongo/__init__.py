"""The MongoDB backend (PyMongo async)."""
