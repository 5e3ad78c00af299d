# Inputs. Secrets are marked sensitive: pass them with TF_VAR_* environment variables or an
# untracked *.auto.tfvars file, never in the repository.

# ---- Accounts

variable "cloudflare_api_token" {
  description = "Cloudflare API token allowed to edit Hyperdrive and Workers scripts' secrets."
  type        = string
  sensitive   = true
}

variable "cloudflare_account_id" {
  description = "Cloudflare account that runs the edge worker."
  type        = string
}

variable "aws_region" {
  description = "AWS region for Postgres, the node fleet and the media bucket."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "parley"
}

# ---- Edge worker (deployed by wrangler from wrangler.toml; Terraform sets its secrets)

variable "worker_name" {
  description = "The worker's name: `name` in wrangler.toml."
  type        = string
  default     = "parley-edge"
}

variable "edge_url" {
  description = "Public base URL of the edge worker, e.g. https://api.example.com. The nodes fetch the token-verifying keys from its /.well-known/jwks.json."
  type        = string
}

variable "jwt_signing_key" {
  description = "The `signing_key` printed by `parley-node keygen`: the worker's PARLEY_JWT_SIGNING_KEY."
  type        = string
  sensitive   = true
}

# ---- Postgres

variable "postgres_version" {
  description = "Postgres major version (the project tests against 15)."
  type        = string
  default     = "15"
}

variable "postgres_instance_class" {
  description = "RDS instance class. Writes scale with this first (ARCHITECTURE.md, Scaling out)."
  type        = string
  default     = "db.t4g.medium"
}

variable "postgres_storage_gb" {
  description = "Allocated storage in GiB."
  type        = number
  default     = 50
}

variable "postgres_user" {
  description = "Postgres user for the nodes and Hyperdrive."
  type        = string
  default     = "parley"
}

variable "postgres_password" {
  description = "Postgres password for postgres_user."
  type        = string
  sensitive   = true
}

# ---- Node fleet

variable "node_count" {
  description = "Connection nodes behind the load balancer. Nodes are stateless peers: Postgres is their only meeting point."
  type        = number
  default     = 2
}

variable "node_instance_type" {
  description = "EC2 instance type of a node."
  type        = string
  default     = "c7g.large"
}

variable "node_ami" {
  description = "AMI with systemd and curl (e.g. Debian 12 or Amazon Linux 2023), matching node_binary_url's architecture."
  type        = string
}

variable "node_binary_url" {
  description = "HTTPS URL of a `parley-node` release binary for node_ami's architecture."
  type        = string
}

variable "wss_certificate_arn" {
  description = "ACM certificate for the WebSocket listener (TLS terminated at the load balancer, port 443)."
  type        = string
}

variable "quic_tls_cert_pem" {
  description = "PEM certificate (chain) the nodes present on QUIC (PARLEY_TLS_CERT). QUIC's TLS ends at the nodes: a UDP load balancer cannot terminate it."
  type        = string
}

variable "quic_tls_key_pem" {
  description = "PEM private key for quic_tls_cert_pem (PARLEY_TLS_KEY)."
  type        = string
  sensitive   = true
}

# ---- Media

variable "media_bucket_name" {
  description = "Globally unique S3 bucket name for media."
  type        = string
}

variable "web_origins" {
  description = "Origins of web clients that upload to and download from the bucket directly (bucket CORS)."
  type        = list(string)
  default     = []
}
