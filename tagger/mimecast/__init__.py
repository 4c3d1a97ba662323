"""Mimecast API: typed models, the HTTP client, authentication and errors."""
