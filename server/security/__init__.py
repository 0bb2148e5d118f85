"""Who may call segflow: TLS credentials, the auth file of hashed tokens and client identities, the roles."""
