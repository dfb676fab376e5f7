"""The candidates a drafted recipe searches: one set for classification, and for regression one
sized to the data (small, medium, large: see `trainer.onboarding.draft`)."""

# one set for every size: the classifiers are cheap next to the data sizes init sees
CLASSIFIER_CANDIDATES = """  dummy: {}
  logistic:
    C: [0.1, 1.0, 10.0]
  knn:
    n_neighbors: [10, 25]
  random_forest:
    n_estimators: [200]
    min_samples_leaf: [3, 10]
  hist_gradient_boosting:
    max_iter: [100]
    learning_rate: [0.05]
    max_leaf_nodes: [7]
    min_samples_leaf: [20]
"""
CANDIDATES = {
    "small": """  dummy: {}
  linear: {}
  ridge:
    alpha: [0.1, 1.0, 10.0, 100.0]
  knn:
    n_neighbors: [10, 25]
  random_forest:
    n_estimators: [200]
    min_samples_leaf: [3, 10]
  hist_gradient_boosting:
    max_iter: [100]
    learning_rate: [0.05]
    max_leaf_nodes: [7]
    min_samples_leaf: [20]
""",
    "medium": """  dummy: {}
  linear: {}
  ridge:
    alpha: [1.0, 10.0, 100.0]
  random_forest:
    n_estimators: [200]
    max_features: [0.33]
    min_samples_leaf: [5]
  hist_gradient_boosting:
    max_iter: [300]
    learning_rate: [0.05]
    max_leaf_nodes: [15]
    min_samples_leaf: [40]
""",
    "large": """  dummy: {}
  ridge:
    alpha: [1.0, 10.0]
  hist_gradient_boosting:
    max_iter: [300]
    learning_rate: [0.1]
    max_leaf_nodes: [31]
""",
}
