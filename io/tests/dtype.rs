use ndchunk_io::DType;

#[test]
fn every_dtype_parses_from_its_name_and_typestr_in_both_byte_orders() {
    for d in DType::ALL {
        assert_eq!(d.name().parse::<DType>().unwrap(), d);
        let kind = match d {
            DType::Bool => 'b',
            DType::Float32 | DType::Float64 => 'f',
            DType::UInt8 | DType::UInt16 | DType::UInt32 | DType::UInt64 => 'u',
            _ => 'i',
        };
        for order in ["<", ">", "|", ""] {
            let typestr = format!("{order}{kind}{}", d.size());
            assert_eq!(typestr.parse::<DType>().unwrap(), d, "{typestr}");
        }
    }
    assert_eq!("|b1".parse::<DType>().unwrap(), DType::Bool);
    assert_eq!("?".parse::<DType>().unwrap(), DType::Bool);
}

#[test]
fn sizes_match_numpy() {
    let sizes: Vec<usize> = DType::ALL.iter().map(|d| d.size()).collect();
    assert_eq!(sizes, vec![1, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8]);
}

#[test]
fn unsupported_dtypes_are_named_in_the_error() {
    for bad in [
        "<U10",
        "|S5",
        "complex64",
        "<c8",
        "<M8[ns]",
        "float16",
        "<f2",
        "",
        "object",
    ] {
        let err = bad.parse::<DType>().unwrap_err().to_string();
        assert!(err.contains(&format!("`{bad}`")), "{err}");
    }
}
