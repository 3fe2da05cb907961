// Package runtime runs one lane as a consumer-group member: a worker per
// claimed partition (decode → idle watermark → tick → decimation ring →
// stage chain → outputs), at-least-once delivery (an offset commits only
// after every output of the records below it is acknowledged, and after the
// stages' state is on the lane's changelog), the DLQ for bad input, and the
// flags and approvals read live from their topics.
package runtime
