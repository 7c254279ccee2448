// Package email sends notifications by SMTP through github.com/wneessen/go-mail:
// STARTTLS is mandatory unless the configuration says otherwise (implicit TLS
// on 465, or none on a trusted relay), and SMTP AUTH (PLAIN, LOGIN, ...) is
// used when a user name is set. The password is read from its file at each
// message, so a changed file needs no reload.
package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/kizashi-dev/kizashi/webhook/notify"
)

// TLS modes.
const (
	TLSStartTLS = "starttls" // STARTTLS, required (default)
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
	TLSNone     = "none"     // plain text: only to a relay on a trusted network
)

// Config is an SMTP relay.
type Config struct {
	Host string
	Port int
	// TLS is one of the TLS modes ("" = starttls).
	TLS string
	// TLSConfig verifies the server (nil: the system's roots, ServerName Host).
	TLSConfig    *tls.Config
	Username     string
	Password     string
	PasswordFile string
	// Auth is the SASL mechanism ("" = PLAIN when a user name is set).
	Auth    string
	From    string
	HELO    string
	Timeout time.Duration
}

// Channel implements notify.Channel.
type Channel struct {
	cfg Config
}

// New checks cfg and returns the channel.
func New(cfg Config) (*Channel, error) {
	if cfg.Host == "" {
		return nil, fmt.Errorf("email: host is required")
	}
	if cfg.From == "" {
		return nil, fmt.Errorf("email: from is required")
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = TLSStartTLS
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("email: tls must be starttls, tls or none, not %q", cfg.TLS)
	}
	if cfg.Port == 0 {
		cfg.Port = map[string]int{TLSStartTLS: 587, TLSImplicit: 465, TLSNone: 25}[cfg.TLS]
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Username != "" && cfg.TLS == TLSNone {
		return nil, fmt.Errorf("email: a user name (SMTP AUTH) needs tls starttls or tls: the password would cross the network in clear text")
	}
	m := mail.NewMsg()
	if err := m.From(cfg.From); err != nil {
		return nil, fmt.Errorf("email: from: %w", err)
	}
	return &Channel{cfg: cfg}, nil
}

func (c *Channel) options() ([]mail.Option, error) {
	cfg := c.cfg
	opts := []mail.Option{mail.WithPort(cfg.Port), mail.WithTimeout(cfg.Timeout)}
	tc := cfg.TLSConfig
	if tc == nil {
		tc = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	}
	switch cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory), mail.WithTLSConfig(tc))
	case TLSImplicit:
		opts = append(opts, mail.WithSSL(), mail.WithTLSConfig(tc))
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(cfg.HELO))
	}
	if cfg.Username != "" {
		pw, err := notify.Secret(cfg.Password, cfg.PasswordFile).Fetch(context.Background())
		if err != nil {
			return nil, fmt.Errorf("email: read password_file: %w", err)
		}
		auth := mail.SMTPAuthType(strings.ToUpper(cfg.Auth))
		if cfg.Auth == "" {
			auth = mail.SMTPAuthPlain
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(cfg.Username), mail.WithPassword(pw))
	}
	return opts, nil
}

// Send implements notify.Channel.
func (c *Channel) Send(ctx context.Context, to notify.Contact, m notify.Message) error {
	if to.Email == "" {
		return fmt.Errorf("email: contact %s has no email address", to.Name)
	}
	t := notify.Render(to, m)
	msg, err := c.message(t.Subject, to.Lang, to.Email)
	if err != nil {
		return fmt.Errorf("%w (contact %s)", err, to.Name)
	}
	msg.SetBodyString(mail.TypeTextPlain, t.Body)
	return c.send(ctx, msg, to.Name)
}

// message starts a mail from the channel's sender to the recipients, in UTF-8, with its date,
// message id and (when given) Content-Language.
func (c *Channel) message(subject, lang string, to ...string) (*mail.Msg, error) {
	msg := mail.NewMsg()
	if err := msg.From(c.cfg.From); err != nil {
		return nil, fmt.Errorf("email: from: %w", err)
	}
	if err := msg.To(to...); err != nil {
		return nil, fmt.Errorf("email: to: %w", err)
	}
	msg.SetCharset(mail.CharsetUTF8)
	msg.Subject(subject)
	msg.SetDate()
	msg.SetMessageID()
	if lang != "" {
		msg.SetGenHeader(mail.HeaderContentLang, lang)
	}
	return msg, nil
}

// send delivers msg through the configured SMTP server; what names the mail in errors.
func (c *Channel) send(ctx context.Context, msg *mail.Msg, what string) error {
	opts, err := c.options()
	if err != nil {
		return err
	}
	client, err := mail.NewClient(c.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("email: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("email to %s via %s:%d: %w", what, c.cfg.Host, c.cfg.Port, err)
	}
	return nil
}

// Document is a mail about no single incident (the monthly service report): a text body,
// optionally an HTML alternative, and attachments.
type Document struct {
	To          []string
	Lang        string
	Subject     string
	Text        string
	HTML        string
	Attachments []Attachment
}

// Attachment is a file of a Document.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// SendDocument mails d to its addresses (one message, every address a recipient).
func (c *Channel) SendDocument(ctx context.Context, d Document) error {
	if len(d.To) == 0 {
		return fmt.Errorf("email: a document needs a recipient")
	}
	msg, err := c.message(d.Subject, d.Lang, d.To...)
	if err != nil {
		return err
	}
	msg.SetBodyString(mail.TypeTextPlain, d.Text)
	if d.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, d.HTML)
	}
	for _, a := range d.Attachments {
		msg.AttachReadSeeker(a.Name, bytes.NewReader(a.Data), mail.WithFileContentType(mail.ContentType(a.ContentType)))
	}
	return c.send(ctx, msg, fmt.Sprintf("%q", d.Subject))
}
