"""Identity and access: permissions, secrets, and resolving a request to a principal."""
