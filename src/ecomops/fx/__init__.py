"""Exchange rates per tenant, so reports convert orders in other currencies."""
