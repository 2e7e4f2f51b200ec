"""Database: declarative base, engine/session factory, models."""
