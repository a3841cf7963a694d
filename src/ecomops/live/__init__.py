"""Live dashboard (实时直播): per-second snapshots of today's trading, shared by every open screen."""
