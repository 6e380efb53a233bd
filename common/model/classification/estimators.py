"""The classifiers train.yaml may name; add one here to try it.

TRUSTED_TYPES lists, per estimator, the types skops may load from a saved model of it: tree
estimators store node arrays that skops only loads when told they come from a trusted source
(a model this pipeline trained itself).
"""

from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression

ESTIMATORS = {
    "logistic_regression": LogisticRegression,
    "random_forest": RandomForestClassifier,
    "hist_gradient_boosting": HistGradientBoostingClassifier,
}
TRUSTED_TYPES = {
    "random_forest": ["sklearn.tree._tree.Tree"],
    "hist_gradient_boosting": ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"],
}
