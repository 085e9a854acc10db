{{/* The ConfigMap's and the Secret's data, shared with the migration Job's own copies
     (a pre-install hook runs before the release's ConfigMap and Secret exist). */}}

{{- define "platform.configData" -}}
DJANGO_SETTINGS_MODULE: {{ .Values.config.settingsModule | quote }}
BASE_DOMAIN: {{ .Values.baseDomain | quote }}
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
DATABASE_POOL_MAX_SIZE: {{ .Values.config.databasePoolMaxSize | quote }}
DATABASE_POOL_TIMEOUT: {{ .Values.config.databasePoolTimeout | quote }}
BILLING_DEMO: {{ .Values.config.billingDemo | quote }}
{{- with .Values.config.trustedProxies }}
TRUSTED_PROXIES: {{ . | quote }}
FORWARDED_ALLOW_IPS: {{ . | quote }}
{{- end }}
{{- with .Values.config.defaultFromEmail }}
DEFAULT_FROM_EMAIL: {{ . | quote }}
{{- end }}
{{- with .Values.config.s3.bucket }}
AWS_STORAGE_BUCKET_NAME: {{ . | quote }}
{{- end }}
{{- with .Values.config.s3.endpointUrl }}
AWS_S3_ENDPOINT_URL: {{ . | quote }}
{{- end }}
{{- with .Values.config.s3.region }}
AWS_S3_REGION_NAME: {{ . | quote }}
{{- end }}
{{- if ne .Values.embedder.mode "none" }}
EMBEDDING_SERVER_TIMEOUT: {{ .Values.embedder.timeoutSeconds | quote }}
{{- end }}
{{- with .Values.metrics.allowedNetworks }}
METRICS_ALLOWED_NETWORKS: {{ join "," . | quote }}
{{- end }}
WORKER_HEARTBEAT_FILE: "/tmp/saas-worker-heartbeat"
BEAT_HEARTBEAT_FILE: "/tmp/saas-beat-heartbeat"
{{- range $name, $value := .Values.config.extraEnv }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{- define "platform.secretData" -}}
{{- $s := .Values.secrets -}}
DJANGO_SECRET_KEY: {{ required "secrets.djangoSecretKey is required (or existingSecret)" $s.djangoSecretKey | quote }}
SECRET_ENCRYPTION_KEYS: {{ required "secrets.secretEncryptionKeys is required (or existingSecret)" $s.secretEncryptionKeys | quote }}
DATABASE_URL: {{ required "secrets.databaseUrl is required (or existingSecret)" $s.databaseUrl | quote }}
REDIS_URL: {{ required "secrets.redisUrl is required (or existingSecret)" $s.redisUrl | quote }}
{{- if not .Values.config.billingDemo }}
STRIPE_SECRET_KEY: {{ required "secrets.stripeSecretKey is required unless config.billingDemo" $s.stripeSecretKey | quote }}
STRIPE_WEBHOOK_SECRET: {{ required "secrets.stripeWebhookSecret is required unless config.billingDemo" $s.stripeWebhookSecret | quote }}
{{- end }}
{{- with $s.emailUrl }}
EMAIL_URL: {{ . | quote }}
{{- end }}
{{- with $s.awsAccessKeyId }}
AWS_ACCESS_KEY_ID: {{ . | quote }}
{{- end }}
{{- with $s.awsSecretAccessKey }}
AWS_SECRET_ACCESS_KEY: {{ . | quote }}
{{- end }}
{{- with $s.metricsToken }}
METRICS_TOKEN: {{ . | quote }}
{{- end }}
{{- range $name, $value := $s.extra }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}
