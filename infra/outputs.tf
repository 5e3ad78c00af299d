# What the other deploy steps need: wrangler.toml's Hyperdrive id and S3 vars, the addresses
# clients connect to.

output "hyperdrive_id" {
  description = "The `id` of the [[hyperdrive]] binding DB in wrangler.toml."
  value       = cloudflare_hyperdrive_config.postgres.id
}

output "websocket_url" {
  description = "Realtime over WebSocket (point a DNS name covered by wss_certificate_arn at nodes_lb_dns_name)."
  value       = "wss://${aws_lb.nodes.dns_name}/v1/ws"
}

output "quic_address" {
  description = "Realtime over QUIC (UDP), ALPN parley/1."
  value       = "${aws_lb.nodes.dns_name}:4433"
}

output "nodes_lb_dns_name" {
  description = "The node fleet's load balancer."
  value       = aws_lb.nodes.dns_name
}

output "s3_endpoint" {
  description = "S3_ENDPOINT for wrangler.toml."
  value       = "https://s3.${aws_s3_bucket.media.region}.amazonaws.com"
}

output "s3_bucket" {
  description = "S3_BUCKET for wrangler.toml."
  value       = aws_s3_bucket.media.id
}

output "s3_region" {
  description = "S3_REGION for wrangler.toml."
  value       = aws_s3_bucket.media.region
}

output "postgres_address" {
  description = "The database's host name (for `parley-node migrate` and operators)."
  value       = aws_db_instance.postgres.address
}

output "database_url" {
  description = "The nodes' DATABASE_URL."
  value       = local.node_database_url
  sensitive   = true
}
