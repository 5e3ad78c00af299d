# Parley in production: a skeleton (see README.md for what it covers and what it leaves out).
# Checked here with `terraform fmt -check` only: providers cannot be downloaded on the build
# machines, so `terraform init/validate/plan` run where they can.
#
# Cloudflare: the Hyperdrive config in front of Postgres, and the edge worker's secrets.
# AWS: Postgres (RDS), the node fleet behind a network load balancer (TCP + UDP), the media bucket.
# The worker itself is built and deployed by wrangler (wrangler.toml at the repository root).

terraform {
  required_version = ">= 1.6"

  required_providers {
    cloudflare = {
      source = "cloudflare/cloudflare"
      # v4: v5 no longer manages secrets of a worker deployed outside Terraform (by wrangler).
      version = "~> 4.52"
    }
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "cloudflare" {
  api_token = var.cloudflare_api_token
}

provider "aws" {
  region = var.aws_region
}

locals {
  db_name = "parley"
  # The nodes' connection: direct (LISTEN/NOTIFY does not go through Hyperdrive's pooling), inside
  # the VPC.
  node_database_url = format(
    "postgres://%s:%s@%s:%d/%s",
    urlencode(var.postgres_user),
    urlencode(var.postgres_password),
    aws_db_instance.postgres.address,
    aws_db_instance.postgres.port,
    local.db_name,
  )
}

# ---- Network. The default VPC keeps the skeleton short; production wants its own VPC with
# private subnets for the database.

data "aws_vpc" "default" {
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }
}

# Hyperdrive reaches the origin database from Cloudflare's published address ranges.
data "cloudflare_ip_ranges" "cloudflare" {}

# ---- Postgres: everything durable lives here.

resource "aws_security_group" "postgres" {
  name        = "${var.name}-postgres"
  description = "Postgres: the nodes and Hyperdrive only"
  vpc_id      = data.aws_vpc.default.id

  ingress {
    description     = "connection nodes"
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = [aws_security_group.nodes.id]
  }

  ingress {
    description = "Cloudflare Hyperdrive"
    from_port   = 5432
    to_port     = 5432
    protocol    = "tcp"
    cidr_blocks = data.cloudflare_ip_ranges.cloudflare.ipv4_cidr_blocks
  }
}

resource "aws_db_parameter_group" "postgres" {
  name   = "${var.name}-postgres${var.postgres_version}"
  family = "postgres${var.postgres_version}"

  # RDS forces TLS from Postgres 15 on, but the node's Postgres client connects without TLS
  # today. Hyperdrive uses TLS to the origin either way. Remove this once the node speaks TLS.
  parameter {
    name  = "rds.force_ssl"
    value = "0"
  }
}

resource "aws_db_instance" "postgres" {
  identifier              = "${var.name}-postgres"
  engine                  = "postgres"
  engine_version          = var.postgres_version
  instance_class          = var.postgres_instance_class
  allocated_storage       = var.postgres_storage_gb
  storage_encrypted       = true
  db_name                 = local.db_name
  username                = var.postgres_user
  password                = var.postgres_password
  parameter_group_name    = aws_db_parameter_group.postgres.name
  vpc_security_group_ids  = [aws_security_group.postgres.id]
  publicly_accessible     = true # for Hyperdrive; the security group admits only it and the nodes
  backup_retention_period = 7
  deletion_protection     = true

  final_snapshot_identifier = "${var.name}-postgres-final"
}

# ---- Hyperdrive: the edge worker's way to Postgres (binding DB in wrangler.toml).

resource "cloudflare_hyperdrive_config" "postgres" {
  account_id = var.cloudflare_account_id
  name       = "${var.name}-postgres"

  origin = {
    scheme   = "postgres"
    host     = aws_db_instance.postgres.address
    port     = aws_db_instance.postgres.port
    database = local.db_name
    user     = var.postgres_user
    password = var.postgres_password
  }

  # Reads must see the latest commit (a client reads history right after sending): no query cache.
  caching = {
    disabled = true
  }
}

# ---- Media: an S3 bucket; clients PUT and GET by presigned URL, the bytes never pass through
# edge or nodes.

resource "aws_s3_bucket" "media" {
  bucket = var.media_bucket_name
}

resource "aws_s3_bucket_public_access_block" "media" {
  bucket                  = aws_s3_bucket.media.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_cors_configuration" "media" {
  count  = length(var.web_origins) > 0 ? 1 : 0
  bucket = aws_s3_bucket.media.id

  cors_rule {
    allowed_methods = ["GET", "PUT", "HEAD"]
    allowed_origins = var.web_origins
    allowed_headers = ["*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3600
  }
}

# The identity that signs presigned URLs (the worker's S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY).
resource "aws_iam_user" "media" {
  name = "${var.name}-media"
}

resource "aws_iam_user_policy" "media" {
  name = "${var.name}-media"
  user = aws_iam_user.media.name

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:PutObject"]
      Resource = "${aws_s3_bucket.media.arn}/*"
    }]
  })
}

resource "aws_iam_access_key" "media" {
  user = aws_iam_user.media.name
}

# ---- The edge worker's secrets. The script must exist first: run `wrangler deploy` once, then
# apply. Plain settings (S3_ENDPOINT, S3_BUCKET, S3_REGION, CORS_ORIGINS) are [vars] in
# wrangler.toml; the outputs give their values.

resource "cloudflare_workers_secret" "jwt_signing_key" {
  account_id  = var.cloudflare_account_id
  script_name = var.worker_name
  name        = "PARLEY_JWT_SIGNING_KEY"
  secret_text = var.jwt_signing_key
}

resource "cloudflare_workers_secret" "s3_access_key_id" {
  account_id  = var.cloudflare_account_id
  script_name = var.worker_name
  name        = "S3_ACCESS_KEY_ID"
  secret_text = aws_iam_access_key.media.id
}

resource "cloudflare_workers_secret" "s3_secret_access_key" {
  account_id  = var.cloudflare_account_id
  script_name = var.worker_name
  name        = "S3_SECRET_ACCESS_KEY"
  secret_text = aws_iam_access_key.media.secret
}

# ---- The node fleet: `parley-node serve` on each instance, behind one network load balancer.
# WebSocket: TLS 443 at the load balancer → TCP 8080 on the nodes. QUIC: UDP 4433 straight
# through (its TLS ends at the nodes). Both health-checked on the node's GET /healthz.

resource "aws_security_group" "nodes" {
  name        = "${var.name}-nodes"
  description = "Parley connection nodes"
  vpc_id      = data.aws_vpc.default.id

  # A network load balancer keeps the clients' source addresses, so the nodes admit everyone on
  # the served ports.
  ingress {
    description = "WebSocket and health checks (HTTP)"
    from_port   = 8080
    to_port     = 8080
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "QUIC"
    from_port   = 4433
    to_port     = 4433
    protocol    = "udp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    description = "Postgres, the edge's JWKS, the release download"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_launch_template" "nodes" {
  name_prefix            = "${var.name}-node-"
  image_id               = var.node_ami
  instance_type          = var.node_instance_type
  vpc_security_group_ids = [aws_security_group.nodes.id]

  user_data = base64encode(templatefile("${path.module}/node-user-data.sh.tftpl", {
    node_binary_url   = var.node_binary_url
    database_url      = local.node_database_url
    jwks_url          = "${trimsuffix(var.edge_url, "/")}/.well-known/jwks.json"
    quic_tls_cert_pem = var.quic_tls_cert_pem
    quic_tls_key_pem  = var.quic_tls_key_pem
  }))
}

resource "aws_lb" "nodes" {
  name               = "${var.name}-nodes"
  load_balancer_type = "network"
  subnets            = data.aws_subnets.default.ids
}

resource "aws_lb_target_group" "ws" {
  name     = "${var.name}-ws"
  port     = 8080
  protocol = "TCP"
  vpc_id   = data.aws_vpc.default.id
  # Time for a draining node's clients to be told `going_away` and reconnect elsewhere.
  deregistration_delay = 30

  health_check {
    protocol = "HTTP"
    port     = "8080"
    path     = "/healthz"
  }
}

resource "aws_lb_target_group" "quic" {
  name                 = "${var.name}-quic"
  port                 = 4433
  protocol             = "UDP"
  vpc_id               = data.aws_vpc.default.id
  deregistration_delay = 30

  health_check {
    protocol = "HTTP"
    port     = "8080"
    path     = "/healthz"
  }
}

resource "aws_lb_listener" "wss" {
  load_balancer_arn = aws_lb.nodes.arn
  port              = 443
  protocol          = "TLS"
  certificate_arn   = var.wss_certificate_arn
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.ws.arn
  }
}

resource "aws_lb_listener" "quic" {
  load_balancer_arn = aws_lb.nodes.arn
  port              = 4433
  protocol          = "UDP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.quic.arn
  }
}

resource "aws_autoscaling_group" "nodes" {
  name                = "${var.name}-nodes"
  min_size            = var.node_count
  max_size            = var.node_count
  desired_capacity    = var.node_count
  vpc_zone_identifier = data.aws_subnets.default.ids
  target_group_arns   = [aws_lb_target_group.ws.arn, aws_lb_target_group.quic.arn]
  health_check_type   = "ELB"

  launch_template {
    id      = aws_launch_template.nodes.id
    version = aws_launch_template.nodes.latest_version
  }

  # New launch templates (a new release) replace the nodes a few at a time.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }
}
