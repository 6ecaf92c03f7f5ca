//! Queries: candidates from the trigram terms, each confirmed with the scan's matcher.

use super::plan::{Plan, plan};
use super::{IndexError, KIND_LINE, SearchIndex, tantivy_error};
use crate::search::{Hit, Matcher};
use crate::term::printable;
use tantivy::query::{BooleanQuery, EnableScoring, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{ReloadPolicy, TantivyDocument, Term};

/// Stored-document blocks cached per segment while reading candidates.
const STORE_CACHE_BLOCKS: usize = 16;

/// What a query did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueryStats {
    /// Whether the pattern narrowed the candidates (otherwise every line was confirmed).
    pub narrowed: bool,
    /// Lines read and confirmed.
    pub candidates: u64,
    /// Hits.
    pub hits: u64,
}

impl SearchIndex {
    /// Gives every line of the index that `matcher` matches to `found`, as the scan would have
    /// given it. Hits come in index order (grouped by recording, but not sorted).
    pub fn query(
        &self,
        matcher: &Matcher,
        found: &mut dyn FnMut(Hit),
    ) -> Result<QueryStats, IndexError> {
        let f = self.fields;
        let narrowing = plan(matcher.regex().as_str());
        let mut stats = QueryStats {
            narrowed: narrowing.is_some(),
            ..QueryStats::default()
        };
        let q = self.candidates(narrowing.as_ref());
        self.for_each_doc(&*q, &mut |doc| {
            stats.candidates += 1;
            let s = |field| doc.get_first(field).and_then(|v| v.as_str());
            let text = s(f.text).unwrap_or_default();
            if !matcher.is_match(text) {
                return Ok(());
            }
            stats.hits += 1;
            let owned = |field| s(field).unwrap_or_default().to_string();
            found(Hit {
                recording: owned(f.loc),
                connection: owned(f.conn),
                channel: owned(f.chan),
                user: owned(f.user),
                target: owned(f.target),
                t: doc.get_first(f.t).and_then(|v| v.as_f64()).unwrap_or(0.0),
                time: owned(f.time),
                line: printable(text).into_owned(),
                full_screen: doc.get_first(f.full_screen).and_then(|v| v.as_u64()) == Some(1),
            });
            Ok(())
        })?;
        Ok(stats)
    }

    /// The tantivy query for the candidate lines of `narrowing` (every line without one).
    fn candidates(&self, narrowing: Option<&Plan>) -> Box<dyn Query> {
        let f = self.fields;
        let term = |field, text: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, text),
                IndexRecordOption::Basic,
            ))
        };
        let mut must = vec![(Occur::Must, term(f.kind, KIND_LINE))];
        for part in narrowing.map(|p| p.parts.as_slice()).unwrap_or_default() {
            let alternatives: Vec<(Occur, Box<dyn Query>)> = part
                .iter()
                .map(|grams| {
                    let all: Vec<(Occur, Box<dyn Query>)> = grams
                        .iter()
                        .map(|g| (Occur::Must, term(f.grams, g)))
                        .collect();
                    (
                        Occur::Should,
                        Box::new(BooleanQuery::new(all)) as Box<dyn Query>,
                    )
                })
                .collect();
            must.push((Occur::Must, Box::new(BooleanQuery::new(alternatives))));
        }
        Box::new(BooleanQuery::new(must))
    }

    /// Calls `each` with every live document `q` matches, segment by segment (memory: one
    /// segment's store cache, whatever the number of matches).
    pub(super) fn for_each_doc(
        &self,
        q: &dyn Query,
        each: &mut dyn FnMut(&TantivyDocument) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        super::guarded(&self.shown(), || self.for_each_doc_unguarded(q, each))
    }

    fn for_each_doc_unguarded(
        &self,
        q: &dyn Query,
        each: &mut dyn FnMut(&TantivyDocument) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        let shown = self.shown();
        let err = |e| tantivy_error(&shown, e);
        let reader = self
            .index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err)?;
        let searcher = reader.searcher();
        let weight = q
            .weight(EnableScoring::disabled_from_searcher(&searcher))
            .map_err(err)?;
        for segment in searcher.segment_readers() {
            let store = segment
                .get_store_reader(STORE_CACHE_BLOCKS)
                .map_err(|e| err(e.into()))?;
            let mut failed = None;
            weight
                .for_each_no_score(segment, &mut |docs| {
                    for &d in docs {
                        if failed.is_some() || segment.is_deleted(d) {
                            continue;
                        }
                        let r = store
                            .get::<TantivyDocument>(d)
                            .map_err(err)
                            .and_then(|doc| each(&doc));
                        if let Err(e) = r {
                            failed = Some(e);
                        }
                    }
                })
                .map_err(err)?;
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Queries several indexes (one per shard, say) as one: every hit of each, in turn.
pub fn query_all(
    indexes: &[SearchIndex],
    matcher: &Matcher,
    found: &mut dyn FnMut(Hit),
) -> Result<QueryStats, IndexError> {
    let mut total = QueryStats::default();
    for ix in indexes {
        let s = ix.query(matcher, found)?;
        total.narrowed |= s.narrowed;
        total.candidates += s.candidates;
        total.hits += s.hits;
    }
    Ok(total)
}
