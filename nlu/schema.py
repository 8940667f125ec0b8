"""The default domain's label sets: a public contract, keep the names."""

INTENTS = (
    "greet", "goodbye", "thanks", "affirm", "deny", "order_status", "cancel_order",
    "return_refund", "billing_problem", "payment_methods", "pricing", "product_features",
    "store_hours", "update_account", "password_reset", "technical_support",
    "cancel_subscription", "complaint", "suggestion", "human_agent", "out_of_scope",
)
SENTIMENTS = ("negative", "neutral", "positive")
ENTITY_TYPES = ("order_number", "product", "amount", "date", "email", "phone_number", "person_name")
