"""What the API does, shared by GraphQL and the REST shims."""
