"""Column roles of the taxi trip data: the one place the model names its columns."""

TARGET = "fare_amount"
NUMERIC = ["trip_distance_km", "trip_duration_min", "pickup_hour", "passenger_count"]
CATEGORICAL = ["pickup_zone"]
STRATIFY = False
