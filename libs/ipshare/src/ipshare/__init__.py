"""The small library every ipshare service builds on."""
