-- A connection row's node must hold a lease, but a foreign key checks that once per row: after
-- a node restart that is one more statement per reconnecting client. The rule is now kept per batch: a node's batch locks its lease row first
-- (store::presence::apply_connections, FOR KEY SHARE, and gives up when the lease is gone), and
-- whoever deletes a lease deletes its connection rows in the same transaction, in a later
-- statement (so it sees rows a batch committed while it waited for that lock).
ALTER TABLE node_connections DROP CONSTRAINT node_connections_node_id_fkey;
