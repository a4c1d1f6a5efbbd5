{{/* Names, labels and the agent's opssc.yaml, shared by the templates. */}}

{{- define "opssc-agent.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "opssc-agent.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
opssc.io/msp-id: {{ .Values.mspId | quote }}
{{- end -}}

{{- define "opssc-agent.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "opssc-agent.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Where things are mounted in the agent's container. */}}
{{- define "opssc-agent.configDir" -}}/etc/opssc/config{{- end -}}
{{- define "opssc-agent.mspDir" -}}/etc/opssc/msp{{- end -}}
{{- define "opssc-agent.tlsDir" -}}/etc/opssc/tls{{- end -}}
{{- define "opssc-agent.tlsClientDir" -}}/etc/opssc/tls-client{{- end -}}
{{- define "opssc-agent.gitDir" -}}/etc/opssc/git{{- end -}}
{{- define "opssc-agent.stateDir" -}}/var/lib/opssc{{- end -}}

{{- define "opssc-agent.opsLabel" -}}
{{- printf "%s_%s" .Values.opsscChaincode.name (default .Chart.AppVersion .Values.opsscChaincode.version) -}}
{{- end -}}

{{/* Fails the render with what to set, for values the agent cannot run without. */}}
{{- define "opssc-agent.validate" -}}
{{- if not .Values.mspId }}{{ fail "set mspId (this organization's MSP ID, e.g. Org1MSP)" }}{{ end -}}
{{- if not .Values.identity.secretName }}{{ fail "set identity.secretName (the Secret with the admin's certificate and key)" }}{{ end -}}
{{- if and .Values.tlsRootCerts.configMapName .Values.tlsRootCerts.secretName }}{{ fail "set only one of tlsRootCerts.configMapName and tlsRootCerts.secretName" }}{{ end -}}
{{- if not (or .Values.tlsRootCerts.configMapName .Values.tlsRootCerts.secretName) }}{{ fail "set tlsRootCerts.configMapName or tlsRootCerts.secretName (the peers' and orderers' TLS CA certificates)" }}{{ end -}}
{{- if not .Values.spec.url }}{{ fail "set spec.url (the spec repository)" }}{{ end -}}
{{- if not (regexMatch "^[0-9a-fA-F]{40}$" (toString .Values.spec.trustedRoot)) }}{{ fail "set spec.trustedRoot to the 40-hex commit your organization trusts without a signature (normally the founding commit)" }}{{ end -}}
{{- $names := dict -}}
{{- range .Values.gitCredentials -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$" (toString .name)) }}{{ fail (printf "gitCredentials: name %q must be a DNS label (lower case letters, digits, '-')" (toString .name)) }}{{ end -}}
{{- if hasKey $names .name }}{{ fail (printf "gitCredentials: name %q is used twice" .name) }}{{ end -}}
{{- $_ := set $names .name true -}}
{{- if not .urlPrefix }}{{ fail (printf "gitCredentials %q: set urlPrefix" .name) }}{{ end -}}
{{- if and (not .secretName) (or .passwordKey .sshKeyKey .sshKeyPassphraseKey .knownHostsKey .caBundleKey) }}{{ fail (printf "gitCredentials %q: set secretName (the Secret holding the files named by its *Key fields)" .name) }}{{ end -}}
{{- end -}}
{{- end -}}

{{/* The agent's opssc.yaml (schema/src/local.rs), every path absolute and under a mount. */}}
{{- define "opssc-agent.config" -}}
{{- $tls := include "opssc-agent.tlsDir" . -}}
{{- $cfg := dict "apiVersion" "opssc/v1alpha1" "kind" "AgentConfig" "mspId" .Values.mspId -}}
{{- $_ := set $cfg "identity" (dict "mspDir" (include "opssc-agent.mspDir" .)) -}}
{{- if .Values.tlsClient.secretName -}}
{{- $dir := include "opssc-agent.tlsClientDir" . -}}
{{- $_ := set $cfg "tlsClient" (dict "cert" (printf "%s/tls.crt" $dir) "key" (printf "%s/tls.key" $dir)) -}}
{{- end -}}
{{- $peers := list -}}
{{- range .Values.peers -}}
{{- $p := dict "name" .name "address" .address "tlsRootCert" (printf "%s/%s" $tls .tlsRootCert) -}}
{{- if .serverName }}{{ $_ := set $p "serverName" .serverName }}{{ end -}}
{{- $peers = append $peers $p -}}
{{- end -}}
{{- $_ := set $cfg "peers" $peers -}}
{{- $orderers := list -}}
{{- range .Values.orderers -}}
{{- $o := dict "name" .name "address" .address "tlsRootCert" (printf "%s/%s" $tls .tlsRootCert) -}}
{{- if .serverName }}{{ $_ := set $o "serverName" .serverName }}{{ end -}}
{{- if .adminAddress }}{{ $_ := set $o "adminAddress" .adminAddress }}{{ end -}}
{{- $orderers = append $orderers $o -}}
{{- end -}}
{{- $_ := set $cfg "orderers" $orderers -}}
{{- $git := dict "url" .Values.spec.url "branch" .Values.spec.branch "pollSeconds" (int .Values.spec.pollSeconds) "trustedRoot" (toString .Values.spec.trustedRoot) -}}
{{- if .Values.spec.path }}{{ $_ := set $git "path" .Values.spec.path }}{{ end -}}
{{- $_ := set $cfg "spec" (dict "git" $git) -}}
{{- $_ := set $cfg "votePolicy" .Values.votePolicy -}}
{{- $_ := set $cfg "channelChanges" .Values.channelChanges -}}
{{- if .Values.autoApprove }}{{ $_ := set $cfg "autoApprove" .Values.autoApprove }}{{ end -}}
{{- $_ := set $cfg "listen" (printf "0.0.0.0:%d" (int .Values.agent.port)) -}}
{{- $_ := set $cfg "stateDir" (include "opssc-agent.stateDir" .) -}}
{{- $servers := deepCopy .Values.chaincodeServers -}}
{{- if .Values.opsscChaincode.enabled -}}
{{- $_ := set $servers (include "opssc-agent.opsLabel" .) (printf "%s:%d" .Values.opsscChaincode.serviceName (int .Values.opsscChaincode.port)) -}}
{{- end -}}
{{- if $servers }}{{ $_ := set $cfg "chaincodeServers" $servers }}{{ end -}}
{{- $_ := set $cfg "opsChaincode" .Values.opsscChaincode.name -}}
{{- $creds := list -}}
{{- range .Values.gitCredentials -}}
{{- $dir := printf "%s/%s" (include "opssc-agent.gitDir" $) .name -}}
{{- $c := dict "urlPrefix" .urlPrefix -}}
{{- if .username }}{{ $_ := set $c "username" .username }}{{ end -}}
{{- if .passwordKey }}{{ $_ := set $c "passwordFile" (printf "%s/%s" $dir .passwordKey) }}{{ end -}}
{{- if .sshKeyKey }}{{ $_ := set $c "sshKey" (printf "%s/%s" $dir .sshKeyKey) }}{{ end -}}
{{- if .sshKeyPassphraseKey }}{{ $_ := set $c "sshKeyPassphraseFile" (printf "%s/%s" $dir .sshKeyPassphraseKey) }}{{ end -}}
{{- if .knownHostsKey }}{{ $_ := set $c "knownHosts" (printf "%s/%s" $dir .knownHostsKey) }}{{ end -}}
{{- if .caBundleKey }}{{ $_ := set $c "caBundle" (printf "%s/%s" $dir .caBundleKey) }}{{ end -}}
{{- if .acceptUnknownHostKey }}{{ $_ := set $c "acceptUnknownHostKey" true }}{{ end -}}
{{- $creds = append $creds $c -}}
{{- end -}}
{{- if $creds }}{{ $_ := set $cfg "gitCredentials" $creds }}{{ end -}}
{{- $cfg = mergeOverwrite $cfg (deepCopy .Values.extraConfig) -}}
{{- toYaml $cfg -}}
{{- end -}}
