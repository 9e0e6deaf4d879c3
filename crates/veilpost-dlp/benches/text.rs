//! Dutch prose for throughput measurements (shared by the bench and the profiling example).

pub const SENTENCES: &[&str] = &[
    "Beste collega's, hierbij de planning voor de komende weken.",
    "De teamvergadering van donderdag 14 maart begint om 10.00 uur in zaal 2.",
    "Wil iedereen voor 1 april zijn vakantiewensen doorgeven aan het secretariaat?",
    "Het nieuwe telefoonnummer van de receptie is 030-2345678.",
    "Vanaf maandag is de parkeerplaats achter het gebouw afgesloten wegens werkzaamheden.",
    "De leverancier heeft de bestelling met ordernummer 2026-0412 bevestigd.",
    "Graag zien wij uw reactie tegemoet – liefst vóór het einde van de maand.",
    "Het overleg met het wijkteam is verplaatst naar dinsdag 15.00 uur.",
    "In de bijlage vindt u de notulen van de vorige vergadering en de actielijst.",
    "Wij zijn verhuisd naar de Molenweg 12, 3512 AB Utrecht.",
    "Neem bij vragen gerust contact op met Sanne van het secretariaat.",
    "De jaarcijfers laten een stijging van 4% zien: € 12.400 meer dan vorig jaar.",
    "Het gastennetwerk heeft een nieuw wachtwoord; vraag het bij de receptie.",
    "Dank voor de prettige samenwerking afgelopen jaar en tot snel, ‘zeker’ weten.",
    "De nieuwe printer op de eerste verdieping is geïnstalleerd en werkt weer.",
    "Op vrijdag 21 juni is de praktijk gesloten in verband met een teamuitje.",
];

/// Care mail: names, dates of birth, diagnoses, doses and lab values, in every sentence or
/// two (the worst case for the person recogniser, which then reads the whole text).
pub const CARE_SENTENCES: &[&str] = &[
    "Gesprek gehad met Noor Jansen (14-02-1961) over haar COPD en de nieuwe inhalator.",
    "Bij Daan van Leeuwen is vorige maand autisme vastgesteld; de ouders zijn op de hoogte.",
    "Meneer De Groot gebruikt metformine 500 mg 2dd en zijn HbA1c was 58 mmol/mol.",
    "Kun je de verwijzing naar de cardioloog voor mevrouw El Amrani klaarzetten?",
    "De wachtlijst voor de fysiotherapie is weer korter, meldt het secretariaat.",
    "Volgende week dinsdag is het MDO om 14.00 uur in de grote zaal.",
    "Cliëntnummer 2026-0042: het ondersteuningsplan is bijgewerkt door het wijkteam.",
    "Sanne Bakker-Smit belde over de uitslag van het bloedonderzoek.",
];

pub fn dutch_text(bytes: usize) -> String {
    text_of(SENTENCES, bytes)
}

pub fn care_text(bytes: usize) -> String {
    text_of(CARE_SENTENCES, bytes)
}

fn text_of(sentences: &[&str], bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 200);
    let mut i = 0usize;
    while out.len() < bytes {
        out.push_str(sentences[i % sentences.len()]);
        out.push(if i % 5 == 4 { '\n' } else { ' ' });
        i = i.wrapping_mul(7).wrapping_add(3) % 1_000_003;
    }
    out
}
