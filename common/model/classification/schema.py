"""Column roles of the customer churn data: the one place the model names its columns."""

TARGET = "churned"
NUMERIC = ["tenure_months", "monthly_charges", "support_calls", "data_usage_gb"]
CATEGORICAL = ["contract", "payment_method"]
STRATIFY = True
