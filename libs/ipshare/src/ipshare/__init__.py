"""The service platform every ipshare service runs on (the domain kernel is `ipshare_kernel`)."""
