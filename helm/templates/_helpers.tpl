{{/* Names, labels and the pieces every workload shares. */}}

{{- define "platform.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "platform.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "platform.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "platform.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "web"). */}}
{{- define "platform.selectorLabels" -}}
app.kubernetes.io/name: {{ include "platform.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "platform.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "platform.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "platform.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "platform.secretName" -}}
{{- default (printf "%s-secrets" (include "platform.fullname" .)) .Values.existingSecret -}}
{{- end -}}

{{- define "platform.embedderUrl" -}}
{{- if eq .Values.embedder.mode "service" -}}
{{- printf "http://%s-embedder:%d" (include "platform.fullname" .) (int .Values.embedder.port) -}}
{{- else if eq .Values.embedder.mode "sidecar" -}}
unix:///run/embedder/embedder.sock
{{- end -}}
{{- end -}}

{{/* The environment of every container running the platform's code: the ConfigMap
     and the Secret (the migration Job passes its own names). */}}
{{- define "platform.envFrom" -}}
- configMapRef:
    name: {{ .configMap }}
- secretRef:
    name: {{ .secret }}
{{- end -}}

{{/* Pod-level settings shared by every workload. */}}
{{- define "platform.podCommon" -}}
serviceAccountName: {{ include "platform.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Spread a component's replicas over zones and nodes: (dict "root" $ "component" "web"). */}}
{{- define "platform.topologySpread" -}}
{{- if .root.Values.topologySpread.enabled -}}
topologySpreadConstraints:
  - maxSkew: {{ .root.Values.topologySpread.maxSkew }}
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: {{ .root.Values.topologySpread.zoneWhenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "platform.selectorLabels" . | nindent 8 }}
  - maxSkew: {{ .root.Values.topologySpread.maxSkew }}
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: {{ .root.Values.topologySpread.nodeWhenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "platform.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end -}}

{{- define "platform.containerSecurity" -}}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- end -}}

{{/* The writable /tmp every container gets (the root filesystem is read-only). */}}
{{- define "platform.tmpVolume" -}}
- name: tmp
  emptyDir:
    {{- with .Values.tmpVolume.medium }}
    medium: {{ . }}
    {{- end }}
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- end -}}

{{- define "platform.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "platform.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.existingSecret }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Key/value pairs as a container's env list. */}}
{{- define "platform.envList" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* The sidecar embedder's probes: its unix socket accepts a connection (it exists only
     once the model is loaded). */}}
{{- define "platform.embedderSocketProbes" -}}
readinessProbe:
  exec:
    command: ["python", "-c", "import socket; s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect('/run/embedder/embedder.sock')"]
  initialDelaySeconds: 5
  periodSeconds: 10
  timeoutSeconds: 5
livenessProbe:
  exec:
    command: ["python", "-c", "import socket; s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect('/run/embedder/embedder.sock')"]
  initialDelaySeconds: 60
  periodSeconds: 30
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/* The ServiceMonitor's and PodMonitor's bearer token: the platform's own Secret's
     METRICS_TOKEN unless serviceMonitor.bearerTokenSecret names another. */}}
{{- define "platform.scrapeAuthorization" -}}
{{- $sm := .Values.serviceMonitor -}}
{{- if $sm.sendToken }}
authorization:
  type: Bearer
  credentials:
    name: {{ $sm.bearerTokenSecret.name | default (include "platform.secretName" .) }}
    key: {{ $sm.bearerTokenSecret.key | default "METRICS_TOKEN" }}
{{- end }}
{{- end -}}
