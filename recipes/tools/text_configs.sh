# Shared by the text recipes (meld, iemocap_text): config name -> `ser text-train` model flags.
# The AGHMN variants of the paper (UniF/BiF memory x Soft/AGRU/BiAGRU summary, BiGRU reader), other readers,
# the scLSTM baseline, and the MiniLM sentence-vector reader (optional extra: pip install 'ser[minilm]').
flags_of() {
  case "$1" in
    unif_agru) echo "--memory unif --summary agru" ;;
    unif_biagru) echo "--memory unif --summary biagru" ;;
    bif_agru) echo "--memory bif --summary agru" ;;
    bif_biagru) echo "--memory bif --summary biagru" ;;
    unif_soft) echo "--memory unif --summary soft" ;;
    bif_soft) echo "--memory bif --summary soft" ;;
    bif_agru_cnn) echo "--memory bif --summary agru --reader cnn" ;;
    bif_agru_bilstm) echo "--memory bif --summary agru --reader bilstm" ;;
    bif_agru_minilm) echo "--memory bif --summary agru --reader minilm" ;;
    sclstm) echo "--model sclstm --reader cnn" ;;
    *) echo "unknown config '$1' (known: unif_agru unif_biagru bif_agru bif_biagru unif_soft bif_soft bif_agru_cnn" \
            "bif_agru_bilstm bif_agru_minilm sclstm)" >&2; return 1 ;;
  esac
}
