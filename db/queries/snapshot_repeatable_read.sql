-- snapshot_repeatable_read: the statements of this transaction read one snapshot.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ
