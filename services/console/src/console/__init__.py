"""The web console of ipshare: pages for members, finance, incubator managers and auditors."""
