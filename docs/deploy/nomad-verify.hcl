# Verify an archive in 8 shards as a Nomad batch job (docs/SCALE.md). Each allocation gets
# its index in NOMAD_ALLOC_INDEX. The endpoint is plain http (this build has no TLS). Merge afterwards with `bsr-verify merge /srv/bsr-reports/shard-*.jsonl`.
job "bsr-verify-2026" {
  type = "batch"

  group "shards" {
    count = 8 # N: the number of shards

    restart {
      attempts = 0 # a failed shard (a tampered recording) is not re-run: it stays visible
      mode     = "fail"
    }

    volume "reports" {
      type   = "host"
      source = "bsr-reports"
    }

    task "verify" {
      driver = "exec"

      config {
        command = "/bin/sh"
        args = ["-c", <<-EOT
          bsr-verify --json --jobs 2 --shard "${NOMAD_ALLOC_INDEX}/8" \
            --kek "${NOMAD_SECRETS_DIR}/kek.hex" --endpoint "$S3_ENDPOINT" \
            s3://bsr-archive/2026/ > "/reports/shard-${NOMAD_ALLOC_INDEX}.jsonl"
          EOT
        ]
      }

      volume_mount {
        volume      = "reports"
        destination = "/reports"
      }

      template {
        destination = "${NOMAD_SECRETS_DIR}/kek.hex"
        data        = "{{ with nomadVar \"nomad/jobs/bsr-verify-2026\" }}{{ .kek }}{{ end }}"
      }

      template {
        destination = "${NOMAD_SECRETS_DIR}/s3.env"
        env         = true
        data        = <<-EOT
          {{ with nomadVar "nomad/jobs/bsr-verify-2026" }}
          AWS_ACCESS_KEY_ID={{ .aws_access_key_id }}
          AWS_SECRET_ACCESS_KEY={{ .aws_secret_access_key }}
          {{ end }}
          AWS_REGION=eu-central-1
          S3_ENDPOINT=http://minio.service.consul:9000
          EOT
      }

      resources {
        cpu    = 2000
        memory = 512
      }
    }
  }
}
