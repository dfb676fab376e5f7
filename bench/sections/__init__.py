"""One module per benchmark section (start-up, a. full run, b. bare, c. scaling, d. parallel, e., f., g. automl, targets)."""
