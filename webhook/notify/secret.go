package notify

import commoncfg "github.com/prometheus/common/config"

// Secret is a channel's secret (an incoming-webhook URL, a routing key, a signing secret, a
// password): inline, or read from file at each use (prometheus/common's FileSecret, trimmed),
// so that rotating the file needs no reload.
func Secret(inline, file string) commoncfg.SecretReader {
	if file != "" {
		return commoncfg.NewFileSecret(file)
	}
	return commoncfg.NewInlineSecret(inline)
}
