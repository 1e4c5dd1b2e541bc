"""Inputs that build and change a tenant: tenant files, scenario files and the changes they
share, synthetic tenants, the bundled demo tenant, and the export of a tenant's truth."""
