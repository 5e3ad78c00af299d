-- A node holds realtime connections; an auth session (auth_sessions) may have several of them.
-- Name the table for what its rows are.
ALTER TABLE node_sessions RENAME TO node_connections;
ALTER TABLE node_connections RENAME CONSTRAINT node_sessions_pkey TO node_connections_pkey;
ALTER TABLE node_connections RENAME CONSTRAINT node_sessions_node_id_fkey TO node_connections_node_id_fkey;
ALTER INDEX node_sessions_user_idx RENAME TO node_connections_user_idx;
