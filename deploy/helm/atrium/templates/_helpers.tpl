{{/* Names, labels, the shared environment and volumes of every Atrium pod. */}}

{{- define "atrium.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "atrium.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "atrium.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "atrium.labels" -}}
app.kubernetes.io/name: {{ include "atrium.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "atrium.selectorLabels" -}}
app.kubernetes.io/name: {{ include "atrium.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "atrium.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else -}}
{{- printf "%s-secrets" (include "atrium.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "atrium.mediaClaim" -}}
{{- if .Values.media.persistence.existingClaim -}}
{{- .Values.media.persistence.existingClaim -}}
{{- else -}}
{{- printf "%s-media" (include "atrium.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Environment shared by web, workers and the migrate Job. Secrets only as *_FILE paths. */}}
{{- define "atrium.env" -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: DJANGO_SETTINGS_MODULE
  value: {{ .Values.settingsModule | quote }}
- name: ALLOWED_HOSTS
  value: {{ printf "%s,$(POD_IP)" .Values.hostname }}{{ range .Values.extraAllowedHosts }},{{ . }}{{ end }}
- name: CSRF_TRUSTED_ORIGINS
  value: {{ printf "https://%s" .Values.hostname | quote }}
- name: SECURE_SSL_REDIRECT
  value: {{ .Values.secureSslRedirect | quote }}
- name: ATRIUM_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: ATRIUM_MAX_UPLOAD_BYTES
  value: {{ .Values.maxUploadBytes | quote }}
- name: ATRIUM_VAR_DIR
  value: /srv/atrium
- name: ATRIUM_MEDIA_ROOT
  value: {{ .Values.media.mountPath | quote }}
- name: SECRET_KEY_FILE
  value: /run/secrets/atrium/secret-key
- name: DATABASE_URL_FILE
  value: /run/secrets/atrium/database-url
- name: REDIS_URL_FILE
  value: /run/secrets/atrium/redis-url
{{- if .Values.metrics.tokenEnabled }}
- name: ATRIUM_METRICS_TOKEN_FILE
  value: /run/secrets/atrium/metrics-token
{{- end }}
{{- if .Values.media.s3.enabled }}
- name: ATRIUM_STORAGE
  value: s3
- name: AWS_STORAGE_BUCKET_NAME
  value: {{ required "media.s3.bucket is required when media.s3.enabled" .Values.media.s3.bucket | quote }}
- name: AWS_S3_ENDPOINT_URL
  value: {{ .Values.media.s3.endpointUrl | quote }}
- name: AWS_S3_REGION_NAME
  value: {{ .Values.media.s3.region | quote }}
- name: AWS_S3_CUSTOM_DOMAIN
  value: {{ .Values.media.s3.customDomain | quote }}
- name: AWS_ACCESS_KEY_ID_FILE
  value: /run/secrets/atrium/aws-access-key-id
- name: AWS_SECRET_ACCESS_KEY_FILE
  value: /run/secrets/atrium/aws-secret-access-key
{{- end }}
{{- end -}}

{{- define "atrium.volumeMounts" -}}
- name: secrets
  mountPath: /run/secrets/atrium
  readOnly: true
- name: media
  mountPath: {{ .Values.media.mountPath }}
{{- end -}}

{{- define "atrium.volumes" -}}
- name: secrets
  secret:
    secretName: {{ include "atrium.secretName" . }}
    defaultMode: 0440
- name: media
  persistentVolumeClaim:
    claimName: {{ include "atrium.mediaClaim" . }}
{{- end -}}

{{/* Init container: wait until the migrate Job has applied every migration. */}}
{{- define "atrium.waitForMigrations" -}}
- name: wait-for-migrations
  image: {{ printf "%s:%s" .Values.image.web.repository (default .Chart.AppVersion .Values.image.web.tag) }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["wait-for-migrations"]
  env:
    {{- include "atrium.env" . | nindent 4 }}
  volumeMounts:
    {{- include "atrium.volumeMounts" . | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    requests: {cpu: 50m, memory: 256Mi}
    limits: {memory: 512Mi}
{{- end -}}
