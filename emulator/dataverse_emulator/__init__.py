"""Local stand-in for Microsoft Entra ID (v2.0 client credentials) and the Dataverse Web API."""
