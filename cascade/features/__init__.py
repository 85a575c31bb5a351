"""The feature store: definitions, point-in-time batch features, real-time session features, online tier."""
