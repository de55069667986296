"""The REST API's shared parts: authentication, permissions, pagination, errors, schema."""
