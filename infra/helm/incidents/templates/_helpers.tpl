{{/* Names, labels and the environment shared by workers and hook jobs. */}}

{{- define "incidents.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "incidents.fullname" -}}
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

{{- define "incidents.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "incidents.selectorLabels" -}}
app.kubernetes.io/name: {{ include "incidents.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "incidents.labels" -}}
helm.sh/chart: {{ include "incidents.chart" . }}
{{ include "incidents.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: incidents
{{- end -}}

{{/* "<fullname>-<worker>", the name of a worker's workload, service and PDB. */}}
{{- define "incidents.workerName" -}}
{{- printf "%s-%s" (include "incidents.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "incidents.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
The worker entries with workerDefaults merged under them, as YAML (a map of
name → spec). mergeOverwrite ignores zero values in the entry (replicas: 0,
enabled: false), so those two are taken from the entry explicitly.
Fails the render when a role is unknown or appears in two entries.
*/}}
{{- define "incidents.workers" -}}
{{- $known := list "enrich" "group" "respond" "sink" -}}
{{- $seen := dict -}}
{{- $out := dict -}}
{{- range $name, $spec := .Values.workers -}}
{{- if $spec -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $name) -}}
{{- fail (printf "workers.%s: the name must be a lowercase DNS label" $name) -}}
{{- end -}}
{{- $w := mergeOverwrite (deepCopy $.Values.workerDefaults) (deepCopy $spec) -}}
{{- if hasKey $spec "replicas" -}}
{{- $_ := set $w "replicas" $spec.replicas -}}
{{- end -}}
{{- $pdb := deepCopy $w.podDisruptionBudget -}}
{{- $_ := set $pdb "enabled" (dig "podDisruptionBudget" "enabled" $.Values.workerDefaults.podDisruptionBudget.enabled $spec) -}}
{{- $_ := set $w "podDisruptionBudget" $pdb -}}
{{- $persistence := deepCopy $w.persistence -}}
{{- $_ := set $persistence "enabled" (dig "persistence" "enabled" $.Values.workerDefaults.persistence.enabled $spec) -}}
{{- $_ := set $w "persistence" $persistence -}}
{{- if not $w.roles -}}
{{- fail (printf "workers.%s.roles: list at least one of %s" $name (join ", " $known)) -}}
{{- end -}}
{{- range $role := $w.roles -}}
{{- if not (has $role $known) -}}
{{- fail (printf "workers.%s.roles: unknown role %q (known: %s)" $name $role (join ", " $known)) -}}
{{- end -}}
{{- if hasKey $seen $role -}}
{{- fail (printf "workers.%s.roles: role %q is already run by workers.%s; two consumer groups would process its input twice" $name $role (get $seen $role)) -}}
{{- end -}}
{{- $_ := set $seen $role $name -}}
{{- end -}}
{{- if not (has $w.store (list "memory" "rocksdb")) -}}
{{- fail (printf "workers.%s.store: memory or rocksdb (got %q)" $name $w.store) -}}
{{- end -}}
{{- $_ := set $out $name $w -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* One env var from a secret reference ({name, key}) or a plain value; nothing if neither. */}}
{{- define "incidents.envValueOrSecret" -}}
{{- if and .ref .ref.name }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .ref.name }}
      key: {{ required (printf "%s: secret reference %s needs a key" .env .ref.name) .ref.key }}
{{- else if .value }}
- name: {{ .env }}
  value: {{ .value | toString | quote }}
{{- end }}
{{- end -}}

{{/*
Kafka connection, topics, logging and config file: every worker and job.
Integers go through `int`: Helm reads numbers as floats, and a float of a
million or more would print as 1e+06.
*/}}
{{- define "incidents.env.common" -}}
{{- $v := .Values -}}
- name: INCIDENTS_KAFKA_BOOTSTRAP
  value: {{ required "kafka.bootstrap is required" $v.kafka.bootstrap | quote }}
- name: INCIDENTS_KAFKA_SECURITY_PROTOCOL
  value: {{ $v.kafka.securityProtocol | default "PLAINTEXT" | quote }}
{{- if $v.kafka.sasl.mechanism }}
- name: INCIDENTS_KAFKA_SASL_MECHANISM
  value: {{ $v.kafka.sasl.mechanism | quote }}
{{- include "incidents.envValueOrSecret" (dict "env" "INCIDENTS_KAFKA_SASL_USERNAME" "value" $v.kafka.sasl.username "ref" $v.kafka.sasl.usernameSecretRef) }}
{{- include "incidents.envValueOrSecret" (dict "env" "INCIDENTS_KAFKA_SASL_PASSWORD" "ref" $v.kafka.sasl.passwordSecretRef) }}
{{- end }}
{{- if and $v.kafka.tls.caSecretRef $v.kafka.tls.caSecretRef.name }}
- name: INCIDENTS_KAFKA_SSL_CAFILE
  value: /etc/incidents-kafka-ca/ca.crt
{{- end }}
- name: INCIDENTS_KAFKA_SESSION_TIMEOUT_S
  value: {{ $v.kafka.sessionTimeoutS | toString | quote }}
- name: INCIDENTS_KAFKA_HEARTBEAT_INTERVAL_S
  value: {{ $v.kafka.heartbeatIntervalS | toString | quote }}
- name: INCIDENTS_KAFKA_REBALANCE_TIMEOUT_S
  value: {{ $v.kafka.rebalanceTimeoutS | toString | quote }}
- name: INCIDENTS_KAFKA_COMMIT_INTERVAL_S
  value: {{ $v.kafka.commitIntervalS | toString | quote }}
- name: INCIDENTS_TOPICS_PREFIX
  value: {{ $v.topics.prefix | default "" | quote }}
- name: INCIDENTS_TOPICS_PARTITIONS
  value: {{ $v.topics.partitions | int | toString | quote }}
- name: INCIDENTS_TOPICS_REPLICATION_FACTOR
  value: {{ $v.topics.replicationFactor | int | toString | quote }}
- name: INCIDENTS_TOPICS_RAW_RETENTION_HOURS
  value: {{ $v.topics.rawRetentionHours | int | toString | quote }}
- name: INCIDENTS_TOPICS_RETENTION_DAYS
  value: {{ $v.topics.retentionDays | int | toString | quote }}
- name: INCIDENTS_WORKER_APP_ID
  value: {{ $v.appId | default "incidents" | quote }}
- name: INCIDENTS_LOG
  value: {{ $v.log | default "json" | quote }}
- name: INCIDENTS_LOGLEVEL
  value: {{ $v.loglevel | default "info" | quote }}
- name: INCIDENTS_CONFIG
  value: /etc/incidents/config.yaml
{{- end -}}

{{/* ClickHouse: the sink workers and the migration job only. */}}
{{- define "incidents.env.clickhouse" -}}
{{- $c := .Values.clickhouse -}}
- name: INCIDENTS_CLICKHOUSE_URL
  value: {{ required "clickhouse.url is required" $c.url | quote }}
- name: INCIDENTS_CLICKHOUSE_DATABASE
  value: {{ $c.database | default "incidents" | quote }}
{{- include "incidents.envValueOrSecret" (dict "env" "INCIDENTS_CLICKHOUSE_USER" "value" $c.user "ref" $c.userSecretRef) }}
{{- include "incidents.envValueOrSecret" (dict "env" "INCIDENTS_CLICKHOUSE_PASSWORD" "ref" $c.passwordSecretRef) }}
{{- if $c.cluster }}
- name: INCIDENTS_CLICKHOUSE_CLUSTER
  value: {{ $c.cluster | quote }}
{{- end }}
- name: INCIDENTS_CLICKHOUSE_BATCH_ROWS
  value: {{ $c.batchRows | int | toString | quote }}
- name: INCIDENTS_CLICKHOUSE_FLUSH_INTERVAL_S
  value: {{ $c.flushIntervalS | toString | quote }}
- name: INCIDENTS_CLICKHOUSE_TTL_DAYS
  value: {{ $c.ttlDays | int | toString | quote }}
{{- end -}}

{{/* The pseudonymization key: workers running enrich only. */}}
{{- define "incidents.env.pseudonym" -}}
{{- $ref := .Values.pseudonymKey.secretRef | default dict -}}
{{- if not $ref.name -}}
{{- fail "pseudonymKey.secretRef.name is required for workers running enrich: without it authors are pseudonymized with the public dev key" -}}
{{- end -}}
{{- include "incidents.envValueOrSecret" (dict "env" "INCIDENTS_ENRICH_PSEUDONYM_KEY" "ref" $ref) }}
{{- end -}}

{{/* Volumes every pod mounts: the config and the Kafka CA (if any), /tmp. */}}
{{- define "incidents.volumes" -}}
- name: config
  configMap:
    name: {{ .configMap }}
- name: tmp
  emptyDir: {}
{{- $ca := .root.Values.kafka.tls.caSecretRef }}
{{- if and $ca $ca.name }}
- name: kafka-ca
  secret:
    secretName: {{ $ca.name }}
    items:
      - key: {{ $ca.key | default "ca.crt" }}
        path: ca.crt
{{- end }}
{{- end -}}

{{- define "incidents.volumeMounts" -}}
- name: config
  mountPath: /etc/incidents
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- $ca := .Values.kafka.tls.caSecretRef }}
{{- if and $ca $ca.name }}
- name: kafka-ca
  mountPath: /etc/incidents-kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/*
A pre-install/pre-upgrade hook Job running one `incidents` subcommand.
dict: root, name (job suffix), command, clickhouse (bool: add ClickHouse env), weight.
The previous run is deleted before a new one is created; a failed run is
kept for its logs (ttlSecondsAfterFinished removes it later).
*/}}
{{- define "incidents.hookJob" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ printf "%s-%s" (include "incidents.fullname" $root) .name | trunc 63 | trimSuffix "-" }}
  labels:
    {{- include "incidents.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .name }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: {{ .weight | quote }}
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ $v.hooks.backoffLimit }}
  activeDeadlineSeconds: {{ $v.hooks.activeDeadlineSeconds }}
  ttlSecondsAfterFinished: {{ $v.hooks.ttlSecondsAfterFinished }}
  template:
    metadata:
      labels:
        {{- include "incidents.selectorLabels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ .name }}
    spec:
      restartPolicy: Never
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.serviceAccount.name }}
      serviceAccountName: {{ . }}
      {{- end }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- toYaml $v.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .name }}
          image: {{ include "incidents.image" $root | quote }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          args: [{{ .command | quote }}]
          env:
            {{- include "incidents.env.common" $root | trim | nindent 12 }}
            {{- if .clickhouse }}
            {{- include "incidents.env.clickhouse" $root | trim | nindent 12 }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- with $v.extraEnvFrom }}
          envFrom:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with $v.hooks.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            {{- toYaml $v.securityContext | nindent 12 }}
          volumeMounts:
            {{- include "incidents.volumeMounts" $root | trim | nindent 12 }}
      volumes:
        {{- include "incidents.volumes" (dict "root" $root "configMap" (printf "%s-hooks" (include "incidents.fullname" $root))) | trim | nindent 8 }}
{{- end -}}
