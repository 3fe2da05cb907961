package schemas

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The Confluent wire format: one magic byte 0, the schema id as 4 bytes big
// endian, then the Avro body. Every Kafka value the pipeline writes has it,
// so any registry-aware consumer (kcat, confluent-kafka, Kafka Connect)
// reads our topics.
const (
	MagicByte      byte = 0
	WireHeaderSize int  = 5
)

// Wire-format errors. ErrTruncated and ErrMagic are wrapped by a *WireError
// naming the input size; ErrUnknownSchemaID by a *SchemaIDError.
var (
	ErrTruncated = errors.New("schemas: shorter than the 5-byte wire header")
	ErrMagic     = errors.New("schemas: wrong magic byte (want 0: not Confluent wire format)")
	// ErrUnknownSchemaID is returned by lookups for a schema id the
	// registry does not know.
	ErrUnknownSchemaID = errors.New("schemas: unknown schema id")
)

// WireError reports why bytes are not in the Confluent wire format.
type WireError struct {
	Len   int  // length of the whole value
	Magic byte // the first byte, when Err is ErrMagic
	Err   error
}

func (e *WireError) Error() string {
	if errors.Is(e.Err, ErrMagic) {
		return fmt.Sprintf("%v: got 0x%02x (%d bytes)", e.Err, e.Magic, e.Len)
	}
	return fmt.Sprintf("%v (%d bytes)", e.Err, e.Len)
}

// Unwrap returns the sentinel.
func (e *WireError) Unwrap() error { return e.Err }

// AppendWireHeader appends the magic byte and schema id to dst.
func AppendWireHeader(dst []byte, id uint32) []byte {
	dst = append(dst, MagicByte)
	return binary.BigEndian.AppendUint32(dst, id)
}

// ParseWire splits a wire-format value into its schema id and Avro body.
// The body aliases b. It reads only the header: an empty body is not an
// error here, since the decoder names what is missing.
func ParseWire(b []byte) (id uint32, body []byte, err error) {
	if len(b) < WireHeaderSize {
		return 0, nil, &WireError{Len: len(b), Err: ErrTruncated}
	}
	if b[0] != MagicByte {
		return 0, nil, &WireError{Len: len(b), Magic: b[0], Err: ErrMagic}
	}
	return binary.BigEndian.Uint32(b[1:5]), b[WireHeaderSize:], nil
}
