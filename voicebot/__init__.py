"""voicebot: an on-premises voice agent for customer-service lines."""
__version__ = "0.1.0"
