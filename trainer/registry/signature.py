"""The logged model's input signature: which columns a caller sends, and of which types."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.models import ModelSignature

    from trainer.data.schema import Schema


def schema_signature(schema: Schema, inferred: ModelSignature) -> ModelSignature:
    """The input signature from the schema, not from a sample: every feature column required,
    typed by its role: numerical as double, or long for a column trained on whole numbers (MLflow
    refuses to convert int64 to double); categorical and derived sources as string. A null is
    accepted wherever the contract allows one (MLflow checks presence and type, not nulls).

    A categorical column trained on true/false or codes stays string: MLflow's JSON parsing casts a
    declared boolean with `astype(bool)`, so "False" would arrive as True, while a string column
    passes JSON's true, 3 and "3" through as sent and the model's `as_category_text` spells them as
    it learned them."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, TensorSpec
    from mlflow.types import Schema as ColumnSchema

    seen = {spec.name: spec.type for spec in inferred.inputs.inputs if isinstance(spec, ColSpec)}
    whole = {c for c in schema.numerical if seen.get(c) in (DataType.long, DataType.integer)}
    columns: list[ColSpec | TensorSpec] = [
        ColSpec(
            DataType.long if c in whole else DataType.double if c in schema.numerical else DataType.string,
            c,
            required=True,
        )
        for c in schema.feature_columns
    ]
    return ModelSignature(inputs=ColumnSchema(columns), outputs=inferred.outputs)
