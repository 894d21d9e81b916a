"""Text emotion recognition in conversations (AGHMN, scLSTM): readers, vocabulary, embeddings, models,
trainer and a streaming (real-time) classifier.

- ``ser.text.data``: MELD CSV, IEMOCAP release, conversation-JSON readers; tokeniser; vocabulary.
- ``ser.text.embeddings``: word2vec binary/text and GloVe text loaders.
- ``ser.text.model``: utterance readers (BiGRU, BiLSTM, CNN), UniF/BiF memory banks, Soft/AGRU/BiAGRU
  summaries, scLSTM baseline, and ``Stream`` for turn-by-turn prediction.
- ``ser.text.sentence_encoder``: frozen all-MiniLM-L6-v2 sentence vectors for the ``minilm`` reader (optional
  extra ``ser[minilm]``), cached per text.
- ``ser.text.train``: training with early stopping on validation macro-F1, multi-seed evaluation, tables.
"""
