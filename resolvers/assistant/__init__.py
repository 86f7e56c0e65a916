"""The assistant that answers questions from the data, through the analytics engine."""
