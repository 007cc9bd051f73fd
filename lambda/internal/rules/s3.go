package rules

import "strings"

// S3KeyCandidates lists the (key, ref) splits of the part of s3://bucket/KEY[:REF]
// after the bucket, longest key first. A key may hold ':' itself, so which split
// is meant is decided against S3: the first key that exists.
func S3KeyCandidates(keyAndRef string) [][2]string {
	out := [][2]string{{keyAndRef, ""}}
	sep := rb.S3.RefSeparator
	for i := strings.LastIndex(keyAndRef, sep); i > 0; i = strings.LastIndex(keyAndRef[:i], sep) {
		out = append(out, [2]string{keyAndRef[:i], keyAndRef[i+len(sep):]})
	}
	return out
}

// SplitS3URI splits s3://bucket/keyAndRef.
func SplitS3URI(uri string) (bucket, keyAndRef string, ok bool) {
	m := rb.s3URI.FindStringSubmatch(uri)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}
