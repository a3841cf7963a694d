"""Access control: the role × permission matrix, user accounts and tenant memberships."""
