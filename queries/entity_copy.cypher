// Bulk path for large batches: fast per row, with a fixed cost of ~25 ms.
COPY Entity FROM $rows
