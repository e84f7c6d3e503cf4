use proptest::prelude::*;

use super::write::one_row;
use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn sample_row(ts: Option<i64>) -> PbRow {
    let mut count = PbCell::plain("count", Value::Integer(42));
    count.timestamp = ts;
    PbRow {
        primary_key: vec![PbCell::plain("id", Value::String("row1".into()))],
        cells: vec![count],
        ..PbRow::default()
    }
}

#[test]
fn encodes_the_reference_rows_byte_for_byte() {
    assert_eq!(
        one_row(&sample_row(None)),
        hex(
            "7500000001030402000000696405090000000304000000726f77310a1c02030405000000636f756e740509000000002a000000000000000a380909"
        )
    );
    assert_eq!(
        one_row(&sample_row(Some(1_700_000_000_000))),
        hex(
            "7500000001030402000000696405090000000304000000726f77310a1c02030405000000636f756e740509000000002a00000000000000070068e5cf8b0100000a5c09a8"
        )
    );
}

#[test]
fn encodes_the_reference_stream_records() {
    let mut row = sample_row(Some(1_700_000_000_000));
    row.seq_info = Some(PbSeqInfo {
        epoch: 1,
        timestamp: 1_700_000_000_000_123,
        row_index: 0,
    });
    assert_eq!(
        one_row(&row),
        hex(
            "7500000001030402000000696405090000000304000000726f77310a1c02030405000000636f756e740509000000002a00000000000000070068e5cf8b0100000a5c0b180000000c130000000d010000000e7b401e18240a06000f0000000009a8"
        )
    );
    let delete = PbRow {
        primary_key: row.primary_key.clone(),
        delete_marker: true,
        seq_info: row.seq_info,
        ..PbRow::default()
    };
    let bytes = one_row(&delete);
    assert_eq!(
        bytes,
        hex(
            "7500000001030402000000696405090000000304000000726f77310a1c080b180000000c130000000d010000000e7b401e18240a06000f0000000009ac"
        )
    );
    assert_eq!(decode_rows(&bytes).unwrap(), vec![delete]);
}

#[test]
fn decodes_an_sdk_put_row_and_rejects_a_flipped_bit() {
    let body = hex(
        "7500000001030402000000706b05060000000301000000610ad4020304010000006e05090000000001000000000000000a480977",
    );
    let rows = decode_rows(&body).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].primary_key,
        vec![PbCell::plain("pk", Value::String("a".into()))]
    );
    assert_eq!(rows[0].cells, vec![PbCell::plain("n", Value::Integer(1))]);
    let mut bad = body.clone();
    bad[20] ^= 1;
    assert!(decode_rows(&bad).is_err());
    assert!(decode_rows(&body[..body.len() - 1]).is_err());
}

#[test]
fn the_nodejs_sdks_zero_padded_range_key_decodes() {
    // `[{id: INF_MIN}]` exactly as tablestore@5.6.5 serializes it: one zero byte after the row.
    let rows = decode_rows(&hex("75000000010304020000006964050100000009 0a6109e000"
        .replace(' ', "")
        .as_str()))
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].primary_key[0].name, "id");
    assert!(matches!(
        rows[0].primary_key[0].value,
        Some(PbValue::InfMin)
    ));
    // Anything but zeros after the row is still an error.
    assert!(
        decode_rows(&hex("75000000010304020000006964050100000009 0a6109e001"
            .replace(' ', "")
            .as_str()))
        .is_err()
    );
}

#[test]
fn huge_lengths_are_rejected_without_allocating() {
    let mut b = hex("75000000010304");
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(decode_rows(&b).is_err());
    assert!(decode_value(&hex("03ffffffff")).is_err());
}

fn value_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Integer),
        any::<f64>()
            .prop_filter("NaN never compares equal", |d| !d.is_nan())
            .prop_map(Value::Double),
        any::<bool>().prop_map(Value::Boolean),
        ".{0,20}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(Value::Binary),
    ]
}

fn cell_strategy() -> impl Strategy<Value = PbCell> {
    (
        "[a-z_]{1,8}",
        proptest::option::of(value_strategy()),
        proptest::option::of(prop_oneof![Just(1u8), Just(3u8), Just(4u8)]),
        proptest::option::of(any::<i64>()),
    )
        .prop_map(|(name, v, op, timestamp)| PbCell {
            name,
            value: v.map(PbValue::Plain),
            op,
            timestamp,
        })
}

proptest! {
    #[test]
    fn rows_round_trip(
        rows in proptest::collection::vec(
            (
                proptest::collection::vec(cell_strategy(), 0..4),
                proptest::collection::vec(cell_strategy(), 0..6),
                any::<bool>(),
            ),
            1..4,
        )
    ) {
        let rows: Vec<PbRow> = rows
            .into_iter()
            .map(|(primary_key, cells, delete_marker)| PbRow {
                primary_key,
                cells,
                delete_marker,
                seq_info: None,
            })
            .collect();
        let mut w = Writer::new();
        for r in &rows {
            w.row(r);
        }
        prop_assert_eq!(decode_rows(&w.finish()).unwrap(), rows);
    }

    #[test]
    fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_rows(&bytes);
        let _ = decode_value(&bytes);
    }

    #[test]
    fn decoder_never_panics_on_mutated_rows(flip in 0usize..59, bit in 0u8..8) {
        let mut b = one_row(&sample_row(None));
        b[flip] ^= 1 << bit;
        let _ = decode_rows(&b);
    }
}
