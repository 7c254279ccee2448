package notifytest

import (
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// decodeBody returns the text of a single-part or multipart message.
func decodeBody(m *mail.Message) (string, error) {
	ct := m.Header.Get("Content-Type")
	media, params, err := mime.ParseMediaType(ct)
	if err != nil {
		media = "text/plain"
	}
	if strings.HasPrefix(media, "multipart/") {
		mr := multipart.NewReader(m.Body, params["boundary"])
		var out strings.Builder
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return out.String(), nil
			}
			if err != nil {
				return "", err
			}
			b, err := decodePart(p, p.Header.Get("Content-Transfer-Encoding"))
			if err != nil {
				return "", err
			}
			out.WriteString(b)
		}
	}
	return decodePart(m.Body, m.Header.Get("Content-Transfer-Encoding"))
}

func decodePart(r io.Reader, cte string) (string, error) {
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

// Subject decodes a mail's Subject (RFC 2047).
func (m Mail) Subject() string {
	s, err := new(mime.WordDecoder).DecodeHeader(m.Msg.Header.Get("Subject"))
	if err != nil {
		return m.Msg.Header.Get("Subject")
	}
	return s
}
