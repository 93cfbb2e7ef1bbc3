package redisx

import (
	"fmt"
	"strings"
)

// Slot is the Redis Cluster hash slot of key (Redis Cluster specification,
// "Keys distribution model"): CRC16 (XMODEM) of the key, or of the part
// between the first "{" and the next "}" when that part is not empty (the
// hash tag), modulo 16384. Keys that must be changed together (one script,
// one MULTI) carry the same hash tag.
func Slot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key) & 16383)
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the checksum
// of the Redis Cluster specification.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// SameSlot returns an error naming two keys that a Redis Cluster would keep
// in different slots, or nil: a script or transaction over them would fail
// there with CROSSSLOT.
func SameSlot(keys ...string) error {
	for i := 1; i < len(keys); i++ {
		if Slot(keys[i]) != Slot(keys[0]) {
			return fmt.Errorf("redis keys in different cluster slots cannot change together: key %d (slot %d) and key 1 (slot %d); give them one hash tag",
				i+1, Slot(keys[i]), Slot(keys[0]))
		}
	}
	return nil
}
