"""Name pools of many origins, with the transliteration variants real registers hold.

Each entry is one name with its spellings, most usual first (``Mohammed|Muhammad|Mohamed``).
A person keeps one spelling throughout the source body's casework; a recipient's register
may hold another of the same name's spellings, which is the commonest reason an exact
match fails.  Within a pool, names are drawn with Zipf weights (rank ``k`` has weight
``k ** -s``), so that common names are common and namesakes occur as they do in life.

The pools are compiled once into flat NumPy arrays (:func:`compile_pools`) so that a
million names are drawn with one random index into a weighted table and assembled by
DuckDB, never one Python call per person.  Each spelling is also kept in the house styles
registers write names in (upper case, ASCII), so styling costs nothing per record.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

FAMILY, MALE, FEMALE = 0, 1, 2
PARTS = (FAMILY, MALE, FEMALE)

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Origin:
    """Where a name comes from: its pools and the habits of the records that hold it.

    ``cases`` and ``public`` are this origin's shares among the source body's people and
    among members of the public in a register; ``middle`` the chance of a second given
    name; ``jan1`` the share of dates of birth recorded as 1 January (a date of birth
    unknown to the issuing state is often written so); ``family_first`` marks cultures
    whose names registers most often swap.  ``heads`` fixes the share of the first (most
    common) family, male and female name where one name is far commoner than a Zipf
    curve over the pool would make it (Mohammed and its spellings); 0 leaves the curve.
    """

    key: str
    nationalities: tuple[tuple[str, float], ...]
    cases: float
    public: float
    middle: float
    jan1: float
    family_first: bool
    family_s: float
    family: str
    male: str
    female: str
    heads: tuple[float, float, float] = (0.0, 0.0, 0.0)


BRITISH_FAMILY = """Smith, Jones, Williams, Taylor, Brown, Davies|Davis, Evans, Wilson, Thomas,
Johnson, Roberts, Robinson, Thompson|Thomson, Wright, Walker, White, Edwards, Hughes,
Green|Greene, Hall, Lewis, Harris, Clarke|Clark, Jackson, Wood, Turner, Martin, Cooper, Hill,
Ward, Morris, Moore|More, King, Watson, Baker, Harrison, Morgan, Allen|Allan, James, Scott,
Phillips|Philips, Parker, Price, Bennett|Bennet, Young, Griffiths|Griffith, Mitchell, Kelly,
Cook|Cooke, Carter, Richardson, Bailey, Collins, Bell, Shaw, Miller, Cox, Richards, Marshall,
Simpson, Ellis, Adams, Wilkinson, Foster, Chapman, Mason, Powell, Webb, Rogers|Rodgers,
Gray|Grey, Mills, Matthews|Mathews, Holmes, Lloyd, Stevens|Stephens, Palmer, Campbell,
Macdonald|McDonald|MacDonald, Stewart|Stuart, Reid|Reed|Read, Murray, Fraser|Frazer,
McKenzie|Mackenzie, Ferguson|Fergusson, Hamilton, Graham|Grahame, Atkinson, Barker, Butler,
Dixon, Fletcher, Gibson, Hunt, Knight, Lawrence|Laurence, Owen|Owens, Pearson|Pierson,
Russell|Russel, Saunders|Sanders, Spencer, Stone, Sutton, Walsh, Wells, West, Whitehead,
Barnes, Bradley, Burton, Cole, Dawson, Elliott|Elliot, Fisher, Ford, Gardner|Gardiner,
Grant, Hart, Hayes|Hays, Holland, Howard, Hudson, Jenkins, Kennedy, Lane, Lee|Leigh"""

BRITISH_MALE = """Oliver, George, Harry, Jack, Noah, Charlie, Jacob, Thomas, Oscar, William,
James, John|Jon, David, Michael, Paul, Andrew, Peter, Mark|Marc, Richard, Christopher,
Stephen|Steven, Robert, Daniel, Matthew|Mathew, Anthony|Antony, Simon, Ian|Iain, Gary|Garry,
Kevin, Neil|Neal, Alan|Allan|Allen, Martin, Philip|Phillip, Graham|Graeme, Stuart|Stewart,
Keith, Lee|Leigh, Jason, Adam, Benjamin, Samuel, Joseph, Edward, Henry, Alexander, Luke, Ryan,
Nathan, Jamie, Liam, Connor|Conor, Callum|Calum, Arthur, Frederick|Frederic, Leo, Archie,
Alfie, Joshua, Dylan, Ethan, Lewis|Louis, Owen, Max, Toby, Reuben|Ruben, Elliot|Elliott,
Francis, Gordon, Malcolm, Colin, Derek|Derrick, Trevor, Roger, Nigel, Brian|Bryan, Dennis,
Raymond, Terence|Terrence, Kenneth, Ronald, Douglas, Duncan, Rhys|Reece, Gareth, Dafydd|David"""

BRITISH_FEMALE = """Olivia, Amelia, Isla, Ava, Emily, Sophie|Sophia, Grace, Lily|Lilly, Mary,
Margaret, Susan, Sarah|Sara, Elizabeth, Helen, Karen, Julie, Claire|Clare, Jennifer, Emma,
Rebecca, Laura, Rachel, Catherine|Katherine|Kathryn, Joanne, Nicola, Michelle, Louise,
Victoria, Charlotte, Hannah, Jessica, Lucy, Amy, Chloe, Ellie, Megan, Gemma|Jemma,
Kirsty|Kirstie, Samantha, Jacqueline, Linda, Patricia, Barbara, Janet, Alison|Allison, Jane,
Anne|Ann, Gillian|Jillian, Deborah|Debra, Tracey|Tracy, Lisa, Freya, Poppy, Evie, Isabelle|Isabel,
Harriet, Florence, Alice, Eleanor|Elinor, Rosie, Abigail, Holly, Natalie|Nathalie,
Zoe|Zoë, Joanna, Caroline, Frances, Pauline, Sandra, Carol|Carole, Christine, Wendy,
Diane|Dianne, Heather, Fiona, Morag, Eilidh, Rhiannon, Sian|Siân, Bethan, Carys"""

CARIBBEAN_FAMILY = """Campbell, Brown, Williams, Johnson, Smith, Thompson|Thomson, Henry,
Clarke|Clark, Reid|Reed, Morgan, Gordon, Grant, Francis, Lewis, Walker, Edwards, Bailey,
Samuels, Bennett, Forbes, McKenzie|Mackenzie, Richards, Wright, Gayle|Gale, Powell, Stewart,
Robinson, Blake, Hylton|Hilton, Lindo, Chambers, Nelson, Pinnock, Bryan|Brian, Christie,
DaCosta|Da Costa|Dacosta, Facey, Barrett|Barratt, Ferguson, Ellis, Joseph, Alleyne|Alleyn,
Braithwaite, Greenidge, Springer, Gittens|Gittins, Ramsay|Ramsey, Lashley, Harewood,
Sealy|Sealey|Seeley, Charles, Baptiste, Jno-Baptiste|Jno Baptiste, St Rose|St. Rose|Saint Rose,
Campbell-Lewis|Campbell Lewis, Persaud|Pershad, Ramdass|Ramdas, McFarlane|MacFarlane,
Dixon, Gooden|Goodin, Bartley, Beckford, Clayton, Daley|Daly, Graham, Hinds|Hines,
Morrison, Spence, Whyte|White, Wynter|Winter"""

CARIBBEAN_MALE = """Hubert, Winston, Desmond, Clement, Lloyd, Delroy, Errol|Erroll, Leroy|LeRoy,
Neville, Carlton, Everton, Fitzroy, Glenford, Linford, Rupert, Cecil, Vincent, Cyril, Egbert,
Alphonso|Alfonso, Wesley, Roy, Trevor, Barrington, Horace, Lennox, Clinton, Milton, Ashton,
Claude, Mortimer, Aston, Lascelles, Ainsley|Ainslie, Uriah, Nathaniel, Wendell, Audley,
Basil, Calvin, Clifton, Derrick|Derek, Donovan, Eustace, Granville, Hopeton, Keith, Leonard,
Noel, Oswald, Percival, Reginald, Sylvester, Tyrone, Ulric, Victor, Wilfred|Wilfried"""

CARIBBEAN_FEMALE = """Sybil, Hortense, Gloria, Pearline|Pearlene, Myrtle, Beverley|Beverly,
Marcia, Paulette, Sonia|Sonya, Yvonne, Merle, Icilda, Enid, Gwendolyn|Gwendoline, Dorothy,
Lorna, Claudette, Veronica, Hyacinth, Carmen, Cynthia, Norma, Jean, Joyce, Olive, Millicent,
Euphemia, Iona, Blossom, Monica, Lurline, Cislyn, Elaine, Jennifer, Angela, Audrey, Beryl,
Cherry, Daphne, Delores|Dolores, Doreen, Edna, Ethel, Eunice, Gladys, Ivy, Lilieth|Lileth,
Maud|Maude, Mavis, Muriel, Pansy, Rosalind, Sheila, Stella, Una, Viola, Winifred"""

SOUTH_ASIAN_FAMILY = """Khan, Ahmed|Ahmad, Hussain|Hussein|Husain|Hossain, Ali, Shah, Begum,
Iqbal, Akhtar|Akhter, Rahman|Rehman, Chowdhury|Choudhury|Chaudhry|Chaudhary, Malik,
Butt|Bhatt, Mahmood|Mahmud|Mehmood, Aslam, Bibi, Islam, Miah|Mia, Uddin|Uddeen, Patel, Singh,
Kaur, Sharma, Kumar, Gupta, Mistry, Desai, Joshi, Mehta, Nair, Reddy, Das, Sandhu, Gill,
Dhillon, Sidhu, Bains, Parmar, Rana, Qureshi|Kureshi, Siddiqui|Siddiqi, Anwar,
Javed|Javaid, Saleem|Salim, Rashid|Rasheed, Nawaz, Riaz, Haider|Hyder, Abbasi,
Sheikh|Shaikh, Mirza, Baig|Beg, Perera, Fernando, Silva, Jayawardena|Jayawardene,
Krishnan, Pillai, Menon, Iyer, Bhatti, Chohan|Chauhan, Hameed|Hamid, Yousaf|Yusuf"""

SOUTH_ASIAN_MALE = """Mohammed|Muhammad|Mohamed|Mohammad|Mohd, Abdul|Abdool, Imran, Asif|Asef,
Tariq|Tarek|Tarik, Zahid, Kamran, Faisal|Faysal, Adnan, Bilal, Usman|Osman|Uthman,
Hamza|Hamzah, Arif|Aarif, Raj, Amit, Sanjay, Rajesh, Vijay, Anil, Sunil, Ravi, Rahul,
Deepak|Dipak, Harpreet, Gurpreet, Jaswinder|Jasvinder, Manjit, Sukhdev, Rakesh, Nadeem|Nadim,
Shahid, Rizwan|Rizwaan, Aamir|Amir, Sohail|Suhail, Waqas|Waqqas, Zubair|Zubayr,
Shafiq|Shafique, Rafiq|Rafique, Ashraf, Nasir|Nasser, Junaid,
Abdul Rahman|Abdulrahman|Abdur Rahman, Arjun, Vikram, Suresh, Mahesh, Ramesh, Dinesh,
Prakash, Kiran, Naveen|Navin, Rohit, Ajay, Anand, Mohan, Tahir, Shabbir, Ibrahim|Ebrahim"""

SOUTH_ASIAN_FEMALE = """Fatima|Fatimah|Fathima, Ayesha|Aisha|Aysha, Nusrat, Shabnam|Shabnum,
Nasreen|Nasrin, Parveen|Perveen|Parvin, Rukhsana|Rukhsanah, Shazia, Samina|Sameena,
Farah|Fara, Saima|Saimah, Sadia|Saadia, Amina|Aminah|Ameena, Rubina|Robina, Tahira,
Zainab|Zaynab|Zeinab, Priya, Anjali, Sunita, Anita, Neha, Pooja|Puja, Kavita, Geeta|Gita,
Harjit, Manpreet, Rajinder|Rajindar, Kulwinder, Sukhwinder, Jasbir, Asma|Asmaa, Sana|Sanaa,
Hina|Heena, Mehwish|Mehvish, Bushra, Uzma, Rehana|Rihana, Salma|Salmaa, Lakshmi|Laxmi,
Meena|Mina, Deepa|Dipa, Rekha, Savita, Shanti|Shanthi, Nirmala, Usha, Yasmin|Yasmeen,
Shamima|Shameema, Rokeya|Rokeyah, Momtaz|Mumtaz, Nazia, Kiran, Noreen|Nurin"""

ARABIC_FAMILY = """Al-Hassan|Alhassan|Al Hassan|El-Hassan|El Hassan, Al-Ahmad|Alahmad|Al Ahmad,
Abdullah|Abdallah|Abdulla, Ibrahim|Ebrahim, Hassan|Hasan, Hussein|Husain|Hussain,
Mahmoud|Mahmud|Mahmood, Mohamed|Mohammed|Muhammad, Ali, Saleh|Salih|Salah, Khalil|Khaleel,
Haddad, Nasser|Nasir|Naser, Yousef|Youssef|Yusuf|Yousif, Mansour|Mansur, Omar|Umar, Farah,
Said|Saeed|Sayed|Sayyid, Rashid|Rasheed, Khoury|Khouri|Al-Khoury, Jaber|Jabir,
Abdelaziz|Abdulaziz|Abd al-Aziz, Karim|Kareem, Osman|Othman|Uthman,
Suleiman|Sulaiman|Soliman|Sleiman, Hamdan, Darwish|Darweesh, Qasim|Kassem|Kasim|Qassem,
Abbas, Hamid|Hameed, Naji|Nagi, Al-Obaidi|Alobaidi|Al Obaidi, Al-Jubouri|Aljaburi|Al Jubouri,
Al-Masri|Almasri|El Masry, Haidar|Haider|Hyder, Zaki|Zaky, Bakri|Bakry, Fayad|Fayyad,
Hijazi|Hegazy|Hejazi, Issa|Eissa|Isa, Jumaa|Juma|Gomaa, Al-Sayed|Elsayed|El Sayed,
Nour|Noor|Nur, Taha, Zidan|Zeidan|Zaidan"""

ARABIC_MALE = """Mohammed|Muhammad|Mohamed|Mohammad, Ahmed|Ahmad, Ali, Omar|Umar,
Khaled|Khalid, Youssef|Yusuf|Yousef, Hassan|Hasan, Hussein|Husain, Ibrahim|Ebrahim,
Abdullah|Abdallah, Mustafa|Mostafa|Moustafa, Mahmoud|Mahmud, Karim|Kareem, Tarek|Tariq|Tarik,
Samir|Sameer, Walid|Waleed, Ayman|Aiman, Bassam, Fadi, Rami|Ramy, Ziad|Ziyad, Nabil|Nabeel,
Hamza|Hamzah, Saif|Sayf, Abdul Rahman|Abdulrahman|Abdelrahman|Abd al-Rahman,
Abdel Karim|Abdulkarim|Abdelkarim, Jamal|Gamal, Adel|Adil, Fares|Faris, Majid|Majed|Maged,
Anas, Bilal, Osama|Usama, Amr|Amro, Hisham|Hesham, Imad|Emad, Iyad|Eyad, Marwan,
Nasser|Naser, Raed|Ra'ed, Sami|Samy, Wael|Wa'il, Yasser|Yasir|Yaser, Zakaria|Zakariya"""

ARABIC_FEMALE = """Fatima|Fatimah|Fatma, Aisha|Aysha|Ayesha, Mariam|Maryam|Miriam, Noor|Nour|Nur,
Layla|Laila|Leila, Huda|Hoda, Rania|Raniya, Salma|Selma, Amira|Ameera, Yasmin|Yasmine|Jasmin,
Dina|Deena, Hana|Hanaa, Rana, Samira|Sameera, Zainab|Zaynab|Zeinab, Nadia|Nadiya, Amal,
Iman|Eman, Asma|Asmaa, Khadija|Khadijah|Khadeeja, Sara|Sarah, Rasha, Lina|Leena, Reem|Rim,
Ghada, Mona|Muna, Souad|Suad|Soad, Hala, Nisreen|Nesrin|Nisrine, Widad|Wedad, Abeer|Abir,
Basma, Dalia|Dalya, Ghadeer|Ghadir, Hiba|Heba, Lubna, Maha, Manal, Nada, Rawan, Sahar, Walaa"""

PERSIAN_FAMILY = """Ahmadi|Ahmady, Mohammadi|Mohammady|Muhammadi, Hosseini|Husseini|Hosseyni,
Rezaei|Rezai|Rezayi, Karimi|Kareemi, Rahimi|Raheemi, Hashemi|Hashimi, Jafari|Jafary|Ja'fari,
Sadeghi|Sadegi, Moradi, Azizi, Safi, Stanikzai|Stanekzai, Popalzai|Popalzay, Noori|Nouri|Nuri,
Amiri|Ameeri, Sharifi, Haidari|Heydari|Haideri, Habibi, Nazari, Akbari,
Yousufzai|Yousafzai|Yusufzai, Wardak, Sultani, Barakzai, Mirzaei|Mirzai, Ebrahimi|Ibrahimi,
Ghorbani|Qurbani, Rostami|Rustami, Kurd|Kord, Barzani, Talabani|Talebani, Hawrami|Hewrami,
Rahmani|Rahmany, Samadi, Naseri|Nasiri, Hakimi, Kazemi|Kazimi, Najafi, Faizi|Feizi,
Mohammadzai|Mohammadzay, Ahmadzai|Ahmadzay, Jalali, Saberi|Sabiri"""

PERSIAN_MALE = """Mohammad|Mohammed|Muhammad, Ahmad|Ahmed, Ali, Reza, Hossein|Hussein|Hosein,
Mehdi|Mahdi, Abdul|Abdol, Hamid|Hameed, Karim|Kareem, Farid|Fareed, Jawad|Javad,
Mustafa|Mostafa, Sayed|Seyed|Sayyid, Ehsan|Ihsan, Masoud|Massoud|Masud, Omid|Umid, Arash,
Dariush|Darius|Daryoush, Kamran, Navid|Naveed, Parviz|Parwiz, Rahim|Raheem, Nasir|Naser,
Zabihullah|Zabiullah, Hekmatullah|Hikmatullah, Rahmatullah|Rahmatulla, Sherzad|Shirzad,
Karwan, Rebwar, Hewa|Hiwa, Shwan|Shuan, Ramin, Babak, Behnam, Hamed, Saeed|Said, Majid|Majeed,
Noorullah|Nurullah, Sharif|Shareef, Wahid|Waheed, Zia|Ziya"""

PERSIAN_FEMALE = """Fatemeh|Fatima|Fatimah, Maryam|Mariam, Zahra|Zohra|Zehra, Sakina|Sakineh,
Roya|Roia, Nasrin|Nasreen, Parisa, Shirin|Sheereen, Leila|Layla, Mina|Meena, Fariba,
Farzana|Farzaneh, Nargis|Narges, Soraya|Suraya, Marzieh|Marziya, Homa|Huma, Laleh|Lale,
Gulalai|Gulalay, Malalai|Malalay, Freshta|Fereshteh, Shabnam, Mahsa, Nazanin, Golnar|Gulnar,
Shilan, Avin, Bahar, Tahmina|Tahmineh, Zarghona|Zarghuna, Hawa|Havva, Parwana|Parvaneh,
Sima|Seema, Niloofar|Nilufar, Samira, Taraneh|Tarana, Ziba|Zeba"""

HORN_FAMILY = """Mohamed|Mohammed|Maxamed, Ali|Cali, Hassan|Xasan, Abdi|Cabdi, Ahmed|Axmed,
Omar|Cumar, Hussein|Xuseen, Yusuf|Yuusuf, Warsame, Farah|Faarax, Jama|Jaamac,
Osman|Cusmaan, Ismail|Ismaaciil, Abdullahi|Cabdullaahi, Nur|Nuur|Noor, Aden|Aadan|Adan,
Egal|Cigaal, Duale|Ducaale, Hersi|Xirsi, Tesfay|Tesfaye, Gebremedhin|Gebre Medhin|Ghebremedhin,
Haile|Hailu, Berhane|Berhe|Birhane, Tekle|Teklay, Kidane, Woldemariam|Wolde Mariam|Weldemariam,
Yohannes|Yohanes|Johannes, Abraha, Mebrahtu|Mebrahtom, Ghebreyesus|Gebreyesus, Asfaw, Negash,
Alemu, Girma, Tadesse|Tadese, Mohamud|Maxamuud, Abdillahi|Cabdillaahi, Guled|Guuleed,
Samatar|Samater, Elmi|Cilmi, Dirie|Diiriye, Habte|Habtu, Kahsay|Kassaye, Measho"""

HORN_MALE = """Mohamed|Mohammed|Maxamed, Abdi|Cabdi, Abdirahman|Cabdiraxmaan|Abdurahman,
Ahmed|Axmed, Hassan|Xasan, Ali|Cali, Yusuf|Yuusuf, Abdullahi|Abdulahi, Mustafe|Mustafa,
Liban, Guled|Guuleed, Mahad|Maxad, Khalid|Khaalid, Bashir|Bashiir, Dawit|Dawud|Daud,
Yonas|Yonatan, Tesfay, Kibrom|Kebrom, Yemane|Yemani, Robel|Robiel, Filmon|Filimon,
Merhawi|Mehari, Henok|Hinok, Biniam|Biniyam|Binyam, Tewodros|Teodros, Amanuel|Emmanuel,
Daniel, Mulugeta, Solomon|Selomon, Abdikarim|Cabdikariim, Abdiaziz|Cabdicasiis,
Ayanle|Ayaanle, Hamse|Xamse, Sharmarke, Abel|Abiel, Efrem|Ephrem, Goitom, Habtom"""

HORN_FEMALE = """Fadumo|Faduma|Fadumaa, Hodan|Hodon, Amina|Aamina, Halima|Xaliimo|Halimo,
Sahra|Sahro|Saxra, Asha|Aasha|Caasha, Hawa|Xaawo|Hawo, Sagal, Nimco|Nimo, Khadra|Khadro,
Ifrah|Ifra, Ayan|Ayaan, Deqa|Deeqa, Leyla|Layla, Filsan, Muna, Luul|Lul, Hibo, Saba|Sabah,
Senait|Senayt|Sennait, Helen|Hellen, Selam|Salam, Mebrat|Mabrat, Tsega|Tsige,
Yordanos|Jordanos, Rahel, Meron, Hiwet|Hiwot, Freweini|Frewini, Luwam|Luwaam, Almaz,
Tigist|Tigest, Selamawit, Hamdi|Xamdi, Ubah|Ubax, Ikran|Ikraan, Naima|Nayma, Samira|Samiira"""

WEST_AFRICAN_FAMILY = """Okafor, Okonkwo, Adeyemi, Adebayo, Okoro, Eze|Ezeh, Nwosu, Obi,
Ogunleye, Oyelaran, Balogun, Bello, Ibrahim, Abubakar|Abu Bakar|Aboubakar, Mensah, Owusu,
Boateng, Asante, Osei, Agyeman|Agyemang, Appiah|Apiah, Darko, Ansah, Kamara, Conteh|Konteh,
Sesay|Sisay, Bangura, Jalloh|Diallo|Djalo, Koroma, Turay|Touray, Jallow, Ceesay, Ndiaye|N'Diaye,
Diop, Okeke, Chukwu, Ogunbiyi, Akinola, Afolabi, Ojo, Danjuma, Musa|Moussa, Adewale,
Oladipo|Oladipupo, Babatunde, Nwachukwu|Nwachukwuh, Onyeka, Ogbonna, Olaniyan, Adeleke,
Fofanah|Fofana, Mansaray, Kargbo, Tetteh, Quaye|Quaye, Amoah, Frimpong|Frimpon, Yeboah"""

WEST_AFRICAN_MALE = """Oluwaseun|Seun, Chinedu, Emeka|Chukwuemeka, Tunde|Babatunde, Olumide,
Segun|Olusegun, Kwame, Kwabena, Kofi, Kwaku, Kojo|Kodjo, Yaw|Yao, Abdoulaye|Abdulai,
Ibrahima|Ibrahim, Mamadou|Mamadu, Ousmane|Usman, Moses|Musa, Emmanuel|Emanuel, Samuel,
Daniel, Joseph, Godwin, Blessing, Prince, Ebenezer, Ikechukwu, Obinna, Uchenna, Chidi,
Femi|Oluwafemi, Gbenga|Oluwagbenga, Sulaiman|Suleiman|Sulayman, Alhaji, Chukwudi,
Ifeanyi|Ifeanyichukwu, Nnamdi, Kelechi, Adewale|Wale, Ayodele|Ayo, Kayode, Alieu|Alieue,
Lamin, Momodou|Modou, Foday|Fodé"""

WEST_AFRICAN_FEMALE = """Ngozi, Chioma, Adaeze|Ada, Funmilayo|Funmi, Folake|Folakemi, Yetunde,
Bukola|Bukky, Abimbola|Bimbo, Temitope|Tope, Oluwakemi|Kemi, Aisha|Aishat|Aishatu,
Fatima|Fatoumata|Fatimata, Mariama|Mariam, Aminata|Aminatou, Hawa|Awa, Isatou|Isatu, Akosua,
Abena|Abenaa, Ama|Amma, Afua|Afia, Efua|Efuah, Adwoa|Adjoa, Comfort, Grace, Blessing, Patience,
Mercy, Gifty, Esther, Precious, Joy, Favour|Favor, Chiamaka, Nkechi, Uchechi, Ifeoma,
Omolara|Lara, Titilayo|Titi, Oluwaseyi|Seyi, Kadiatu|Kadiatou, Binta, Adjoa|Adwoa"""

CHINESE_FAMILY = """Wang|Wong, Li|Lee, Zhang|Cheung|Chang, Liu|Lau, Chen|Chan, Yang|Yeung,
Huang|Hwang, Zhao|Chiu, Wu|Ng, Zhou|Chow|Chou, Xu|Hsu|Tsui, Sun|Suen, Ma|Mah, Zhu|Chu|Choo,
Hu|Foo, Guo|Kuo|Kwok, He|Ho, Lin|Lam|Lim, Luo|Lo|Law, Liang|Leung, Song|Sung,
Zheng|Cheng, Xie|Tse|Hsieh, Tang|Tong, Han|Hon, Feng|Fung, Deng|Teng, Cao|Tsao, Peng|Pang,
Zeng|Tsang|Tseng, Xiao|Siu|Hsiao, Tian|Tien, Dong|Tung, Pan|Poon, Yuan|Yuen, Cai|Choi|Tsai,
Jiang|Chiang|Keung, Yu|Yue|Yee, Du|To, Ye|Yip|Yeh, Wei|Ngai, Lu|Lo|Loo, Shi|Shek, Fan, Qian|Chin"""

CHINESE_MALE = """Wei, Xiaoming|Xiao Ming|Hsiao-ming|Siu Ming, Jian|Chien|Kin, Hao, Jun|Chun,
Lei|Lui, Yong|Yung, Jie|Chieh|Kit, Tao, Ming, Gang|Kong, Bo|Po, Hui|Wai, Zhiwei|Chih-wei|Chi Wai,
Jianguo|Chien-kuo|Kin Kwok, Haoran|Hao Ran, Yuxuan|Yu Xuan, Zihan|Tzu-han, Kai, Long|Lung,
Feng|Fung, Jianhua|Chien-hua|Kin Wah, Wenjie|Wen-chieh|Man Kit, Zhihao|Chih-hao|Chi Ho,
Junjie|Chun-chieh|Chun Kit, Yu|Yue, Chao|Chiu, Qiang|Keung, Ping, Bin|Ban, Dong|Tung,
Guang|Kwong, Peng|Pang, Rui|Yui, Xin|Hsin|Yan, Yi|Yee"""

CHINESE_FEMALE = """Jing|Ching, Ying, Mei|May|Mui, Xiaohong|Hsiao-hung|Siu Hung, Fang|Fong,
Yan|Yen, Lan|Laan, Ling, Min|Man, Hong|Hung, Juan|Chuan, Xiu|Hsiu|Sau, Na, Ting,
Wen|Wan, Jiayi|Chia-yi|Ka Yee, Shuang|Seung, Qing|Ching-ching, Xue|Hsueh|Suet, Lili|Li-li,
Yumei|Yu-mei|Yuk Mei, Xiaoyan|Hsiao-yen|Siu Yin, Huiying|Hui-ying|Wai Ying,
Meiling|Mei-ling|Mei Ling,
Yuqing|Yu-ching, Shuyi|Shu-yi|Shu Yee, Xinyi|Hsin-yi|Yan Yee, Lihua|Li-hua|Lai Wah, Hui|Wai,
Dan|Tan, Jie|Chieh, Lin, Rong|Jung|Wing, Yun"""

VIETNAMESE_FAMILY = """Nguyễn|Nguyen|Nguyên, Trần|Tran, Lê|Le, Phạm|Pham, Hoàng|Hoang, Huỳnh|Huynh,
Phan, Vũ|Vu, Võ|Vo, Đặng|Dang, Bùi|Bui, Đỗ|Do, Hồ|Ho, Ngô|Ngo, Dương|Duong, Lý|Ly,
Đinh|Dinh, Đào|Dao, Trương|Truong, Mai, Lâm|Lam, Tạ|Ta, Cao, Lưu|Luu"""

VIETNAMESE_MALE = """Văn Minh|Van Minh, Văn Hùng|Van Hung, Đức Anh|Duc Anh, Minh Tuấn|Minh Tuan,
Quốc Bảo|Quoc Bao, Thành|Thanh, Hải|Hai, Long, Nam, Tuấn|Tuan, Dũng|Dung, Hiếu|Hieu,
Khánh|Khanh, Phúc|Phuc, Trung, Quang, Sơn|Son, Việt|Viet, Cường|Cuong, Văn Đức|Van Duc,
Hoàng Long|Hoang Long, Thanh Tùng|Thanh Tung, Quang Huy, Đức Thắng|Duc Thang, Minh Khoa,
Văn Thành|Van Thanh, Tiến|Tien, Bình|Binh, Hưng|Hung, Lộc|Loc"""

VIETNAMESE_FEMALE = """Thị Lan|Thi Lan, Thị Hương|Thi Huong, Thị Mai|Thi Mai, Thị Hoa|Thi Hoa,
Thị Thu|Thi Thu, Ngọc Anh|Ngoc Anh, Thu Trang, Linh, Hằng|Hang, Phương|Phuong, Thảo|Thao, Trang,
Huyền|Huyen, Hạnh|Hanh, Yến|Yen, Nhung, Oanh, Loan, Vy, Quỳnh|Quynh, Thị Hằng|Thi Hang,
Thị Nga|Thi Nga, Thị Hồng|Thi Hong, Thị Thanh|Thi Thanh, Kim Anh, Bảo Ngọc|Bao Ngoc,
Minh Châu|Minh Chau, Thùy Linh|Thuy Linh, Ngọc Hân|Ngoc Han, Diệu Linh|Dieu Linh"""

EAST_EUROPEAN_FAMILY = """Nowak, Kowalski|Kowalsky, Wiśniewski|Wisniewski, Wójcik|Wojcik,
Kowalczyk, Kamiński|Kaminski, Lewandowski, Zieliński|Zielinski, Szymański|Szymanski,
Woźniak|Wozniak, Dąbrowski|Dabrowski, Kozłowski|Kozlowski, Jankowski, Mazur, Kwiatkowski,
Krawczyk, Popescu, Ionescu, Popa, Pop, Radu, Dumitru, Stan, Stoica, Gheorghe|Georghe, Munteanu,
Constantin, Matei, Ivanov|Ivanoff, Georgiev|Georgieff, Dimitrov, Petrov|Petroff, Nikolov,
Kazlauskas, Jankauskas, Petrauskas, Stankevičius|Stankevicius, Vasiliauskas, Ozols,
Bērziņš|Berzins, Novák|Novak, Horváth|Horvath|Horvat, Kovács|Kovacs, Nagy, Grabowski,
Pawłowski|Pawlowski, Michalski, Zając|Zajac, Król|Krol, Wieczorek, Jabłoński|Jablonski,
Constantinescu, Stanciu, Marin, Rusu, Tudor, Florea, Dinu, Todorov, Stoyanov|Stoianov"""

EAST_EUROPEAN_MALE = """Piotr, Krzysztof, Tomasz, Paweł|Pawel, Michał|Michal, Marcin,
Łukasz|Lukasz, Jakub, Andrzej, Grzegorz, Mateusz, Adam, Ion|Ioan, Andrei|Andrey, Mihai,
Gheorghe|George, Alexandru|Alexander, Vasile, Florin, Cristian|Kristian, Georgi|Georgy,
Dimitar|Dimitri, Ivan, Nikolay|Nikolai, Jonas, Tomas|Tomáš, Mindaugas, Darius, Jānis|Janis,
Andris, László|Laszlo, Zoltán|Zoltan, Bogdan, Ciprian, Dariusz, Dawid|David, Ionuț|Ionut,
Kamil, Marius, Przemysław|Przemyslaw, Radosław|Radoslaw, Sebastian, Stefan|Ștefan, Wojciech"""

EAST_EUROPEAN_FEMALE = """Anna|Ana, Maria|Marija, Katarzyna, Małgorzata|Malgorzata, Agnieszka,
Magdalena, Joanna|Ioana, Ewa|Eva, Monika|Monica, Elena|Jelena, Andreea|Andrea,
Mihaela|Michaela, Cristina|Kristina, Gabriela, Ivanka, Desislava, Rūta|Ruta, Jurgita, Ilze,
Zuzana, Jana, Aleksandra|Alexandra, Barbara, Beata, Dorota, Justyna, Karolina, Marta,
Natalia, Paulina, Alina, Daniela, Georgiana, Iuliana|Juliana, Larisa, Raluca, Simona,
Petya|Petia, Svetla, Kristina|Christina, Laima, Inga, Eszter, Zsófia|Zsofia"""

SLAVIC_FAMILY = """Shevchenko|Ševčenko|Chevtchenko, Kovalenko|Kowalenko, Bondarenko,
Tkachenko|Tkatchenko, Kravchenko|Kravtchenko, Melnyk|Melnik|Mel'nyk, Boyko|Boiko|Bojko,
Kovalchuk|Kovaltchouk, Oliynyk|Oleinik|Olijnyk, Shevchuk|Ševčuk, Polishchuk|Polischuk,
Lysenko|Lisenko, Marchenko, Moroz, Ivanov|Ivanoff, Smirnov|Smirnoff,
Kuznetsov|Kuznetzov|Kouznetsov, Popov|Popoff, Sokolov|Sokoloff, Lebedev|Lebedeff, Kozlov,
Novikov, Morozov, Volkov|Wolkow, Fedorov|Fyodorov|Fiodorov, Mikhailov|Mikhaylov|Michailow,
Zaitsev|Zaytsev|Saizew, Pavlov|Pawlow, Semenov|Semyonov|Semjonow, Beridze, Kapanadze,
Gelashvili, Lomidze, Rusu, Ciobanu|Chobanu, Ceban|Cheban, Savchenko|Savtchenko,
Rudenko, Klymenko|Klimenko, Petrenko, Sydorenko|Sidorenko, Hrytsenko|Gritsenko,
Vasylenko|Vasilenko, Pavlenko, Levchenko, Kharchenko, Yakovenko|Iakovenko"""

SLAVIC_MALE = """Oleksandr|Olexandr|Aleksandr|Oleksander, Serhiy|Serhii|Sergiy|Sergey|Sergei,
Andriy|Andrii|Andrey, Volodymyr|Wolodymyr|Vladimir, Dmytro|Dmitro|Dmitry|Dmitri,
Mykola|Mikola|Nikolai, Yuriy|Yurii|Yuri|Jurij, Oleh|Oleg, Vitaliy|Vitalii|Vitaly, Ihor|Igor,
Maksym|Maxim|Maksim, Pavlo|Pavel, Mykhailo|Mikhail|Mykhaylo|Michail,
Yevhen|Evgeny|Yevgeny|Evgeniy, Vasyl|Vasily|Wasyl, Taras, Bohdan|Bogdan, Giorgi|Georgi, Levan,
Nikoloz, Artem|Artyom|Artiom, Denys|Denis, Ivan, Kostiantyn|Konstantin|Kostyantyn,
Roman, Ruslan, Viktor|Victor, Anatoliy|Anatolii|Anatoly, Valentyn|Valentin, Yaroslav|Jaroslav"""

SLAVIC_FEMALE = """Olena|Elena|Yelena, Tetiana|Tetyana|Tatiana|Tatyana,
Nataliya|Natalia|Natalya|Nataliia, Iryna|Irina, Svitlana|Svetlana, Oksana|Oxana,
Yuliia|Yulia|Iuliia, Kateryna|Ekaterina|Yekaterina|Katerina, Anastasiia|Anastasia|Anastasiya,
Olha|Olga, Mariia|Mariya, Halyna|Galina|Halina, Liudmyla|Lyudmila|Ludmila,
Viktoriia|Viktoria|Victoria, Daria|Darya|Dariia, Nino, Tamar|Tamara, Ketevan|Keti,
Alina, Inna, Larysa|Larisa, Nadiia|Nadezhda|Nadiya, Valentyna|Valentina, Liliia|Lilia|Liliya,
Khrystyna|Khristina|Kristina, Sofiia|Sofia|Sofiya, Zoriana|Zoryana, Vira|Vera"""

TURKISH_FAMILY = """Yılmaz|Yilmaz, Kaya, Demir, Şahin|Sahin, Çelik|Celik, Yıldız|Yildiz,
Yıldırım|Yildirim, Öztürk|Ozturk, Aydın|Aydin, Özdemir|Ozdemir, Arslan, Doğan|Dogan,
Kılıç|Kilic, Aslan, Çetin|Cetin, Kara, Koç|Koc, Kurt, Özkan|Ozkan, Şimşek|Simsek,
Hoxha|Hodja|Hoxa, Berisha|Berishaj, Krasniqi|Krasniki, Gashi, Shehu, Morina, Kelmendi,
Bytyqi|Bytyci, Dervishi|Dervishaj, Lleshi|Leshi, Kola, Leka, Mehmeti, Polat, Erdoğan|Erdogan,
Güneş|Gunes, Aksoy, Korkmaz, Tekin, Avcı|Avci, Kaplan, Duka, Hysa, Rama, Basha|Bashaj"""

TURKISH_MALE = """Mehmet|Mehmed, Mustafa, Ahmet|Ahmed, Ali, Hüseyin|Huseyin|Hussein, Hasan|Hassan,
İbrahim|Ibrahim, İsmail|Ismail, Osman, Yusuf, Murat|Murad, Emre, Burak, Kemal, Serkan, Erdem,
Arben, Besnik, Ardit, Dritan, Gentian, Ilir, Fatmir, Agron, Ermal, Edmond, Klodian, Endrit,
Blerim, Halil, Ramazan, Cem, Deniz, Onur, Volkan, Arjan, Florian, Genc, Kujtim, Saimir"""

TURKISH_FEMALE = """Fatma|Fatima, Ayşe|Ayse|Aishe, Emine|Emina, Hatice|Hatixhe, Zeynep|Zeinep,
Elif, Meryem|Meriem, Şerife|Serife, Sultan, Hülya|Hulya, Özlem|Ozlem, Esra, Merve, Büşra|Busra,
Arta, Blerta, Drita, Elira, Flutura, Jonida, Mimoza, Valbona, Vjollca|Violca, Lindita, Anisa,
Gül|Gul, Derya, Songül|Songul, Sevgi, Dilek, Ardita, Entela, Klea, Rezarta, Besiana"""

LATIN_FAMILY = """García|Garcia, Rodríguez|Rodriguez, González|Gonzalez|Gonzales,
Fernández|Fernandez, López|Lopez|Lopes, Martínez|Martinez, Sánchez|Sanchez, Pérez|Perez,
Gómez|Gomez|Gomes, Martín|Martin, Jiménez|Jimenez|Gimenez, Ruiz, Hernández|Hernandez,
Díaz|Diaz|Dias, Moreno, Álvarez|Alvarez, Romero, Silva, Santos, Oliveira, Souza|Sousa,
Pereira, Costa, Carvalho, Almeida, Ferreira, Ribeiro, Rodrigues, Alves, Nascimento, Lima,
Araújo|Araujo, Castro, Vargas, Rojas, Torres, Mendoza, Ramírez|Ramirez, Gutiérrez|Gutierrez,
Morales, Ortiz, Vásquez|Vasquez|Vazquez, Cardoso, Barbosa, Fernandes, Teixeira|Texeira"""

LATIN_MALE = """José|Jose, Juan, Luis|Luís, Carlos, Antonio|António, Manuel, Francisco,
Javier|Xavier, Miguel, Pedro, João|Joao, Paulo, Rafael, Diego, Andrés|Andres, Fernando, Jorge,
Ricardo, Eduardo, Gabriel, Lucas, Mateus|Matheus, Tiago|Thiago, Alejandro, Sebastián|Sebastian,
Felipe|Filipe, Gustavo, Henrique|Enrique, Marcos, Rodrigo, Sergio|Sérgio, Vicente, Bruno,
Leonardo, Nicolás|Nicolas, Óscar|Oscar, Raúl|Raul, Rubén|Ruben"""

LATIN_FEMALE = """María|Maria, Ana, Carmen, Isabel|Izabel, Laura, Lucía|Lucia, Marta|Martha,
Sofía|Sofia, Valentina, Camila, Juliana, Fernanda, Mariana, Beatriz, Gabriela, Daniela,
Patrícia|Patricia, Adriana, Carolina, Paula, Rosa, Teresa|Tereza, Luz, Guadalupe,
Ximena|Jimena, Andrea, Bianca, Claudia|Cláudia, Elena, Isabela|Isabella, Larissa|Larisa,
Natalia|Natália, Renata, Sara, Silvia|Sílvia, Vanessa|Vanesa"""

FILIPINO_FAMILY = """Santos, Reyes, Cruz, Bautista, Ocampo, Garcia, Mendoza, Torres, Tomas,
Andrada, Castillo, Flores, Villanueva, Ramos, Castro, Rivera, Aquino, Navarro, Salazar, Mercado,
De Leon|Deleon|De León, Dela Cruz|De la Cruz|Delacruz, Del Rosario|Delrosario, Manalo,
Pascual, Domingo, Soriano, Dizon, Gonzales, Valdez|Valdes, Lopez, Aguilar, Marquez|Márquez,
Fernandez, Santiago, Panganiban, Magbanua, Macaraeg, Dimaculangan, Evangelista"""

FILIPINO_MALE = """Jose|José, Juan, Mark, John Paul|Johnpaul|Jon Paul, Rodel, Arnel, Rommel, Jun,
Ramon|Ramón, Eduardo, Reynaldo, Danilo, Ariel, Jericho, Christian|Kristian, Michael|Micheal,
Romeo, Ronaldo|Ronald, Jonathan, Allan|Alan, Jayson|Jason, Noel, Ricardo, Rogelio, Joel,
Efren, Renato, Marvin, Jomar, Dexter"""

FILIPINO_FEMALE = """Maria|Ma., Mary Grace|Marygrace, Maricel|Marisel, Rowena, Jocelyn,
Cristina|Kristina|Christina, Lorna, Marilou|Mary Lou, Rosalie, Analyn|Annalyn|Ana Lyn, Jennifer,
Joy, Lovely, Angelica|Angelika, Rhea|Rea, Marites|Maritess, Liza|Lisa, Evelyn, Grace, Cherry,
Divina, Erlinda, Gina, Imelda, Jasmine, Leah|Lea, Marivic, Nenita, Rosario, Teresita"""

IRISH_FAMILY = """Murphy, Kelly, O'Sullivan|OSullivan|O Sullivan, Walsh|Welsh,
O'Brien|OBrien|O Brien,
Byrne|Burn, Ryan, O'Connor|OConnor|O Connor, O'Neill|ONeill|O Neill|O'Neil,
O'Reilly|OReilly|Reilly, Doyle, McCarthy|MacCarthy|Mc Carthy, Gallagher|Gallacher,
O'Doherty|Doherty, Kennedy, Lynch, Murray, Quinn, Moore, McLoughlin|MacLoughlin,
O'Carroll|Carroll, Connolly|Conolly, Daly|Daley, O'Connell|OConnell, Brennan, Burke, Collins,
Dunne|Dunn, Fitzgerald, Kavanagh|Cavanagh, Keane|Kane, Maguire|McGuire, Nolan, Power, Whelan"""

IRISH_MALE = """Seán|Sean|Shaun|Shawn, Patrick|Pádraig|Padraig, Ciarán|Ciaran|Kieran, Niall,
Eoin|Owen, Declan, Cathal, Darragh|Daragh, Oisín|Oisin, Conor|Connor, Séamus|Seamus,
Liam, Aidan|Aodhán|Aiden, Brendan, Dermot|Diarmuid, Colm, Fionn|Finn, Cian|Kian, Donal|Dónal,
Enda, Fergal, Kevin, Michael, John, Ronan, Tadhg|Teague"""

IRISH_FEMALE = """Siobhán|Siobhan|Shivaun, Aoife, Niamh|Neve, Caoimhe|Keeva, Saoirse, Sorcha,
Róisín|Roisin, Sinéad|Sinead, Aisling|Ashling, Orla|Orlaith, Clodagh, Gráinne|Grainne,
Máire|Maire|Moira, Bríd|Brid|Bridget, Deirdre|Deidre, Eimear|Emer, Ciara|Kiara,
Mairéad|Mairead, Aoibhinn|Aoibheann, Úna|Una, Nuala, Mary, Catherine, Margaret"""

# Indonesian: many people, Javanese above all, have one name (Sukarno, Suharto, Budi);
# those with two often carry a father's name or a clan name (Batak: Siregar, Nasution).
INDONESIAN_FAMILY = """Wijaya|Widjaja, Santoso|Santosa, Susanto, Saputra, Pratama, Hidayat,
Setiawan, Kurniawan, Gunawan, Nugroho, Wibowo, Halim, Tanjung, Siregar, Nasution, Harahap,
Lubis, Simanjuntak, Sitompul, Hutapea, Purba, Sinaga, Hasibuan, Rahman, Hakim, Putra, Putri,
Sari, Utomo|Oetomo, Suryadi|Soeryadi, Hartono, Salim, Lim, Tan, Effendi|Efendi, Syahputra"""

INDONESIAN_MALE = """Muhammad|Mohammad|Muhamad, Budi, Agus, Joko|Djoko, Slamet, Bambang,
Hendra, Eko, Rudi|Rudy, Andi, Ahmad|Achmad, Rizky|Rizki, Fajar, Adi, Wahyu, Arief|Arif, Hadi,
Dedi|Dedy, Heru, Iwan, Sutrisno|Soetrisno, Sukarno|Soekarno, Suharto|Soeharto,
Supriyadi|Soepriyadi, Sugiarto|Soegiarto, Bayu, Dimas, Aditya, Yusuf|Yoesoef, Teguh, Hari,
Irfan, Ilham, Rahmat|Rachmat, Dwi, Tri"""

INDONESIAN_FEMALE = """Siti, Sri, Dewi, Nur|Noor, Rina, Ratna, Wati, Yuni, Sari, Fitri|Fitria,
Indah, Lestari, Putri, Ayu, Dian, Rini, Endang, Sulastri, Suharti|Soeharti, Kartini, Wulan,
Nurul, Ani, Tuti, Lina, Maya, Mega, Intan, Wahyuni, Puspita, Rahayu, Kurniasih"""

ORIGINS: tuple[Origin, ...] = (
    Origin("british", (("GBR", 1.0),), 0.0, 0.70, 0.55, 0.0, False, 0.55,
           BRITISH_FAMILY, BRITISH_MALE, BRITISH_FEMALE),
    Origin("irish", (("IRL", 1.0),), 0.0, 0.04, 0.45, 0.0, False, 0.6,
           IRISH_FAMILY, IRISH_MALE, IRISH_FEMALE),
    Origin("anglophone", (("USA", 0.3), ("AUS", 0.25), ("CAN", 0.15), ("NZL", 0.1),
                          ("ZAF", 0.2)), 0.05, 0.01, 0.5, 0.0, False, 0.55,
           BRITISH_FAMILY, BRITISH_MALE, BRITISH_FEMALE),
    Origin("caribbean", (("JAM", 0.55), ("TTO", 0.12), ("BRB", 0.08), ("GUY", 0.08),
                         ("LCA", 0.04), ("GRD", 0.04), ("VCT", 0.03), ("DMA", 0.02),
                         ("KNA", 0.02), ("ATG", 0.02)), 0.04, 0.03, 0.55, 0.0, False, 0.6,
           CARIBBEAN_FAMILY, CARIBBEAN_MALE, CARIBBEAN_FEMALE),
    Origin("south_asian", (("PAK", 0.4), ("IND", 0.35), ("BGD", 0.2), ("LKA", 0.05)),
           0.18, 0.07, 0.35, 0.02, False, 0.65,
           SOUTH_ASIAN_FAMILY, SOUTH_ASIAN_MALE, SOUTH_ASIAN_FEMALE, heads=(0.0, 0.20, 0.0)),
    Origin("arabic", (("IRQ", 0.2), ("SYR", 0.25), ("EGY", 0.1), ("SDN", 0.15), ("YEM", 0.05),
                      ("LBY", 0.05), ("MAR", 0.05), ("DZA", 0.05), ("JOR", 0.04),
                      ("XXA", 0.06)), 0.10, 0.015, 0.45, 0.08, False, 0.6,
           ARABIC_FAMILY, ARABIC_MALE, ARABIC_FEMALE, heads=(0.0, 0.20, 0.0)),
    Origin("persian", (("AFG", 0.45), ("IRN", 0.4), ("IRQ", 0.1), ("XXA", 0.05)),
           0.08, 0.005, 0.25, 0.20, False, 0.6,
           PERSIAN_FAMILY, PERSIAN_MALE, PERSIAN_FEMALE, heads=(0.0, 0.15, 0.0)),
    Origin("horn", (("SOM", 0.45), ("ERI", 0.35), ("ETH", 0.2)), 0.05, 0.01, 0.6, 0.20,
           False, 0.7, HORN_FAMILY, HORN_MALE, HORN_FEMALE, heads=(0.18, 0.22, 0.0)),
    Origin("west_african", (("NGA", 0.5), ("GHA", 0.25), ("SLE", 0.1), ("GMB", 0.08),
                            ("CMR", 0.07)), 0.10, 0.03, 0.5, 0.03, False, 0.5,
           WEST_AFRICAN_FAMILY, WEST_AFRICAN_MALE, WEST_AFRICAN_FEMALE),
    Origin("chinese", (("CHN", 0.75), ("HKG", 0.15), ("MYS", 0.05), ("TWN", 0.05)),
           0.07, 0.015, 0.05, 0.0, True, 0.9,
           CHINESE_FAMILY, CHINESE_MALE, CHINESE_FEMALE),
    Origin("vietnamese", (("VNM", 1.0),), 0.05, 0.003, 0.0, 0.02, True, 1.4,
           VIETNAMESE_FAMILY, VIETNAMESE_MALE, VIETNAMESE_FEMALE),
    Origin("east_european", (("POL", 0.4), ("ROU", 0.3), ("BGR", 0.1), ("LTU", 0.1),
                             ("LVA", 0.03), ("SVK", 0.04), ("HUN", 0.03)),
           0.06, 0.04, 0.2, 0.0, False, 0.5,
           EAST_EUROPEAN_FAMILY, EAST_EUROPEAN_MALE, EAST_EUROPEAN_FEMALE),
    Origin("slavic", (("UKR", 0.55), ("RUS", 0.2), ("BLR", 0.05), ("GEO", 0.12),
                      ("MDA", 0.08)), 0.06, 0.01, 0.15, 0.0, False, 0.5,
           SLAVIC_FAMILY, SLAVIC_MALE, SLAVIC_FEMALE),
    Origin("turkish_albanian", (("TUR", 0.45), ("ALB", 0.4), ("RKS", 0.15)),
           0.07, 0.01, 0.2, 0.03, False, 0.6,
           TURKISH_FAMILY, TURKISH_MALE, TURKISH_FEMALE),
    Origin("latin", (("BRA", 0.35), ("COL", 0.2), ("VEN", 0.1), ("ECU", 0.08), ("PER", 0.05),
                     ("PRT", 0.12), ("ESP", 0.1)), 0.05, 0.01, 0.6, 0.0, False, 0.6,
           LATIN_FAMILY, LATIN_MALE, LATIN_FEMALE),
    Origin("filipino", (("PHL", 1.0),), 0.04, 0.005, 0.4, 0.0, False, 0.6,
           FILIPINO_FAMILY, FILIPINO_MALE, FILIPINO_FEMALE),
    Origin("indonesian", (("IDN", 1.0),), 0.01, 0.002, 0.3, 0.02, False, 0.6,
           INDONESIAN_FAMILY, INDONESIAN_MALE, INDONESIAN_FEMALE),
)  # fmt: skip

# Windrush: Commonwealth citizens who came before 1973, mostly from the Caribbean.
WINDRUSH_ORIGINS = {"caribbean": 0.85, "south_asian": 0.10, "west_african": 0.05}


def _entries(text: str) -> list[list[str]]:
    """``"A|B, C"`` -> ``[["A", "B"], ["C"]]``; spellings keep their order, duplicates dropped."""
    out = []
    for raw in text.replace("\n", " ").split(","):
        spellings = [s.strip() for s in raw.split("|") if s.strip()]
        if spellings:
            out.append(list(dict.fromkeys(spellings)))
    return out


# Styles a register may write a name in, combined with a spelling id as
# ``spelling * STYLES + style``: as recorded, upper case, folded to ASCII, both.
PLAIN, UPPER, FOLD = 0, 1, 2
STYLES = 4
_FOLD_TABLE = str.maketrans({"Đ": "D", "đ": "d", "Ł": "L", "ł": "l", "ı": "i", "Ø": "O",
                             "ø": "o", "ß": "ss", "'": None, "-": " "})  # fmt: skip
DRAW_RESOLUTION = 1 << 13  # table slots per group: each name's weight to 1/8192


def fold(text: str) -> str:
    """ASCII without accents or apostrophes, hyphens as spaces: a register's house style."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD_TABLE))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def styled(text: str, style: int) -> str:
    out = fold(text) if style & FOLD else text
    return out.upper() if style & UPPER else out


@dataclass(frozen=True)
class Pools:
    """Every name of every origin, flattened for vectorised drawing.

    A *token* is one name (all its spellings); a *spelling* one way of writing it.
    Tokens of origin ``o`` and part ``p`` (family, male, female) occupy
    ``group_start[g] : group_start[g] + group_size[g]`` with ``g = o * 3 + p``.
    ``table`` holds, for each group, ``DRAW_RESOLUTION`` slots filled with tokens in
    proportion to their Zipf weight, so that a draw is one random index, not a search.
    ``text_id`` maps each spelling to the id of its text (upper-cased), so that equal
    texts compare equal whichever name they spell.  ``styled`` holds every spelling in
    every style (index ``spelling * STYLES + style``) and ``styled_length`` its length.
    """

    origins: tuple[Origin, ...]
    group_start: IntArray
    group_size: IntArray
    table: IntArray
    spell_start: IntArray  # per token: first spelling
    spell_count: IntArray  # per token: number of spellings
    spellings: tuple[str, ...]  # per spelling
    text_id: IntArray  # per spelling
    styled: tuple[str, ...]
    styled_length: IntArray
    styled_with_initials: tuple[str, ...]  # styled, then each one's first letter
    token_share: npt.NDArray[np.float64]  # per token: its share of its group's draws

    def group(self, origin: IntArray, part: IntArray | int) -> IntArray:
        return cast(IntArray, np.asarray(origin, dtype=np.int64) * 3 + part)

    def draw(self, rng: np.random.Generator, group: IntArray) -> IntArray:
        """One token per row from that row's group, by its Zipf weight."""
        slot = rng.integers(0, DRAW_RESOLUTION, size=len(group))
        return cast(IntArray, self.table[group * DRAW_RESOLUTION + slot])


def _zipf_table(first: int, n: int, s: float, head: float = 0.0) -> IntArray:
    """``DRAW_RESOLUTION`` token ids, each name taking slots in proportion to ``k ** -s``
    (every name at least one); with ``head`` the first name takes that share instead."""
    w = np.arange(1, n + 1, dtype=np.float64) ** -s
    if head > 0 and n > 1:
        w[0] = head / (1.0 - head) * w[1:].sum()
    edges = np.round(np.cumsum(w / w.sum()) * DRAW_RESOLUTION).astype(np.int64)
    counts = np.maximum(np.diff(np.r_[0, edges]), 1)
    while counts.sum() > DRAW_RESOLUTION:  # the minimum of one slot overshot: trim the top
        counts[np.argmax(counts)] -= counts.sum() - DRAW_RESOLUTION
    counts[0] += DRAW_RESOLUTION - counts.sum()
    return np.repeat(np.arange(first, first + n, dtype=np.int64), counts)


@functools.cache
def compile_pools() -> Pools:
    group_start: list[int] = []
    group_size: list[int] = []
    tables: list[IntArray] = []
    spell_start: list[int] = []
    spell_count: list[int] = []
    spellings: list[str] = []
    token = 0
    for origin in ORIGINS:
        for part, text in ((FAMILY, origin.family), (MALE, origin.male), (FEMALE, origin.female)):
            entries = _entries(text)
            group_start.append(token)
            group_size.append(len(entries))
            s = origin.family_s if part == FAMILY else 0.6
            tables.append(_zipf_table(token, len(entries), s, origin.heads[part]))
            for e in entries:
                spell_start.append(len(spellings))
                spell_count.append(len(e))
                spellings.extend(e)
                token += 1
    table = np.concatenate(tables)
    token_share = np.bincount(table, minlength=token).astype(np.float64) / DRAW_RESOLUTION
    upper = np.array([s.upper() for s in spellings], dtype=object)
    _, text_id = np.unique(upper, return_inverse=True)
    styled_all = tuple(styled(sp, st) for sp in spellings for st in range(STYLES))
    return Pools(
        origins=ORIGINS,
        group_start=np.array(group_start, dtype=np.int64),
        group_size=np.array(group_size, dtype=np.int64),
        table=table,
        spell_start=np.array(spell_start, dtype=np.int64),
        spell_count=np.array(spell_count, dtype=np.int64),
        spellings=tuple(spellings),
        text_id=text_id.astype(np.int64),
        styled=styled_all,
        styled_length=np.array([len(x) for x in styled_all], dtype=np.int64),
        styled_with_initials=styled_all + tuple(x[:1] for x in styled_all),
        token_share=token_share,
    )


def origin_index(key: str) -> int:
    for i, o in enumerate(ORIGINS):
        if o.key == key:
            return i
    raise KeyError(key)
